// Semantic versions for $veq $vne $vgt $vgte $vlt $vlte (docs/targeting.md, "Versions"):
// SemVer 2.0.0 precedence, a leading "v" allowed, missing minor / patch read as 0, build
// metadata ignored, leading zeros refused.

const VERSION =
  /^v?(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** A comparable key [major, minor, patch, releaseFlag, identifiers], or null. */
export function parseVersion(text) {
  const match = VERSION.exec(text);
  if (match === null) return null;
  const [, major, minor, patch, pre] = match;
  const core = [Number(major), Number(minor ?? 0), Number(patch ?? 0)];
  if (pre === undefined) return [...core, 1, []];
  const idents = [];
  for (const part of pre.split(".")) {
    if (/^[0-9]+$/.test(part)) {
      if (part.length > 1 && part[0] === "0") return null;
      idents.push([0, Number(part), ""]);
    } else {
      idents.push([1, 0, part]);
    }
  }
  return [...core, 0, idents];
}

function compareScalar(a, b) {
  return a === b ? 0 : a < b ? -1 : 1;
}

function compareIdents(x, y) {
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    for (let j = 0; j < 3; j++) {
      const c = compareScalar(x[i][j], y[i][j]);
      if (c !== 0) return c;
    }
  }
  return compareScalar(x.length, y.length);
}

/** Precedence of two parsed versions (-1, 0, 1). */
export function compareVersions(a, b) {
  for (let i = 0; i < 4; i++) {
    const c = compareScalar(a[i], b[i]);
    if (c !== 0) return c;
  }
  return compareIdents(a[4], b[4]);
}
