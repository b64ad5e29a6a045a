"""Group-sequential boundaries by Lan-DeMets alpha spending, for planned repeated looks.

Spending functions (Lan & DeMets 1983), for a total level alpha and information fraction t:

* O'Brien-Fleming type: ``alpha(t) = 2 - 2 Phi(z_{1 - alpha/2} / sqrt(t))``
* Pocock type:          ``alpha(t) = alpha ln(1 + (e - 1) t)``

At look k the boundary c_k solves ``P(no crossing before k, |Z_k| >= c_k) = alpha(t_k) -
alpha(t_{k-1})`` under H0, where Z_k = S_k / sqrt(t_k) and S is a Brownian motion in
information time. The probability is computed by the recursive numerical integration of
Armitage, McPherson & Rowe (1969), as in Jennison & Turnbull (2000), chapter 19: the density
of S on the continuation region is carried from look to look by convolution with the normal
increment, with Gauss-Legendre quadrature on each region, and c_k is found by bisection.

Information fraction at a look = units per variant (the smallest arm) / minSampleSize, capped
at 1. Earlier looks, unless given, are taken as equally spaced up to the current fraction.
At the last planned look (look == maxPeeks), or once the fraction reaches 1, the remaining
alpha is spent. Boundaries depend only on (spending, sides, fractions, final), so they are
cached; a table over many levels turns a z statistic into the smallest level at which the
sequential test rejects at this look (the sequential p-value), which multiplicity corrections
then adjust. The levels at which a decision can be taken (alpha/m, Holm's and BH's steps) are
exact nodes of that table, so "sequential p-value <= level" and "|z| >= boundary at level"
are the same statement, and the reported boundary and interval agree with the p-values.
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import special

from splitlab.stats.errors import StatsError

Spending = Literal["obrien_fleming", "pocock"]
FloatArray = NDArray[np.float64]

#: A boundary at or above this is "no alpha left at this look" (reported as no boundary).
C_MAX = 38.0
#: The levels of the p-value table: 1e-8 .. 0.999 (below 1e-8 exit probabilities reach
#: the precision of double sums; smaller p-values are extrapolated).
_TABLE_LEVELS = np.concatenate([np.geomspace(1e-8, 0.1, 64), np.linspace(0.12, 0.999, 30)])


def spent(spending: Spending, alpha: float | FloatArray, t: float, sides: int = 1) -> FloatArray:
    """Cumulative alpha spent by information fraction t (0 <= t <= 1).

    A two-sided test at total level alpha spends alpha/2 on each side, each side by the
    one-sided function (the convention of Lan & DeMets 1983, gsDesign, rpact and ldbounds,
    whose published boundaries the tests reproduce).
    """
    if sides == 2:
        return 2.0 * spent(spending, np.asarray(alpha, dtype=float) / 2.0, t)
    a = np.asarray(alpha, dtype=float)
    if t <= 0:
        return np.zeros_like(a)
    if t >= 1:
        return a.copy()
    if spending == "obrien_fleming":
        return np.asarray(2.0 - 2.0 * special.ndtr(special.ndtri(1.0 - a / 2.0) / math.sqrt(t)))
    if spending == "pocock":
        return np.asarray(a * math.log1p((math.e - 1.0) * t))
    raise StatsError(f"unknown spending function {spending!r}")


@dataclass(frozen=True)
class Plan:
    """The looks so far: information fractions (increasing) and whether this look is the last."""

    fractions: tuple[float, ...]
    final: bool

    @property
    def spend_fractions(self) -> tuple[float, ...]:
        if self.final:
            return (*self.fractions[:-1], 1.0)
        return self.fractions

    @property
    def fraction(self) -> float:
        return self.fractions[-1]


def make_plan(
    look: int,
    max_peeks: int,
    fraction: float,
    history: tuple[float, ...] | None = None,
) -> Plan:
    """The plan at `look` given this look's information fraction (and earlier ones, if known)."""
    t = min(max(fraction, 1e-4), 1.0)  # as given: rounding moves the boundaries
    if history is None:
        fractions = tuple(t * j / look for j in range(1, look + 1))
    else:
        if len(history) != look - 1:
            raise StatsError(
                f"history has {len(history)} earlier look(s); look {look} needs {look - 1}"
            )
        fractions = (*(min(max(h, 1e-4), 1.0) for h in history), t)
    fixed: list[float] = []
    for f in fractions:
        fixed.append(max(f, fixed[-1] + 1e-4) if fixed else f)
    return Plan(tuple(fixed), final=look >= max_peeks or t >= 1.0)


@functools.lru_cache(maxsize=64)
def _nodes(count: int) -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre nodes and weights on [-1, 1], computed once per count (about 60 ms each,
    and every look's boundaries need them); read-only, since callers share them."""
    # numpy < 2 ships leggauss untyped, numpy >= 2 typed: the ignore must tolerate both.
    x, w = np.polynomial.legendre.leggauss(count)  # type: ignore[no-untyped-call, unused-ignore]
    nodes, weights = np.array(x, dtype=float), np.array(w, dtype=float)
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


def boundaries(alphas: FloatArray, spending: Spending, plan: Plan, sides: int) -> FloatArray:
    """Boundaries on the z scale, shape (levels, looks), for every total level in `alphas`."""
    info = np.asarray(plan.fractions, dtype=float)
    spend = plan.spend_fractions
    levels = np.asarray(alphas, dtype=float)
    cum = np.stack([spent(spending, levels, s, sides) for s in spend], axis=1)
    inc = np.clip(np.diff(cum, axis=1, prepend=0.0), 0.0, None)
    count_l, k = cum.shape
    out = np.empty((count_l, k))
    with np.errstate(divide="ignore"):
        first = special.ndtri(1.0 - inc[:, 0] / sides)
    out[:, 0] = np.minimum(np.nan_to_num(first, posinf=C_MAX), C_MAX)
    if k == 1:
        return out
    ratio = max(info[j - 1] / (info[j] - info[j - 1]) for j in range(1, k))
    x, w = _nodes(int(min(400, max(48, 24 * math.sqrt(ratio)))))
    g, s = _initial(out[:, 0], info[0], x, w, sides)
    for j in range(1, k):
        sd = math.sqrt(info[j] - info[j - 1])
        root_t = math.sqrt(info[j])
        out[:, j] = _solve(g, s, sd, root_t, inc[:, j], sides)
        if j < k - 1:
            g, s = _propagate(g, s, sd, out[:, j] * root_t, x, w, sides, root_t)
    return out


def _region(
    upper: FloatArray, x: FloatArray, w: FloatArray, sides: int, root_t: float
) -> tuple[FloatArray, FloatArray]:
    """Quadrature nodes and weights on each level's continuation region for S (sd root_t).

    Beyond 10 standard deviations the density is below 1e-22, so regions are cut there.
    """
    top = np.minimum(upper, 10.0 * root_t)[:, None]
    bottom = -top if sides == 2 else np.full_like(top, -10.0 * root_t)
    half = (top - bottom) / 2.0
    return bottom + half * (x[None, :] + 1.0), half * w[None, :]


def _initial(
    c1: FloatArray, t1: float, x: FloatArray, w: FloatArray, sides: int
) -> tuple[FloatArray, FloatArray]:
    """Density mass of S_1 at the quadrature nodes of the first continuation region."""
    root = math.sqrt(t1)
    s, weights = _region(c1 * root, x, w, sides, root)
    dens = np.exp(-0.5 * (s / root) ** 2) / (root * math.sqrt(2.0 * math.pi))
    return dens * weights, s


def _exit(g: FloatArray, s: FloatArray, sd: float, b: FloatArray, sides: int) -> FloatArray:
    up = special.ndtr((s - b[:, None]) / sd)
    if sides == 2:
        up = up + special.ndtr((-b[:, None] - s) / sd)
    return np.asarray(np.sum(g * up, axis=1))


def _solve(
    g: FloatArray, s: FloatArray, sd: float, root_t: float, target: FloatArray, sides: int
) -> FloatArray:
    lo = np.zeros(len(target))
    hi = np.full(len(target), C_MAX)
    for _ in range(48):
        mid = (lo + hi) / 2.0
        too_low = _exit(g, s, sd, mid * root_t, sides) > target
        lo = np.where(too_low, mid, lo)
        hi = np.where(too_low, hi, mid)
    c = (lo + hi) / 2.0
    return np.where(target <= 0.0, C_MAX, c)


def _propagate(
    g: FloatArray,
    s: FloatArray,
    sd: float,
    b: FloatArray,
    x: FloatArray,
    w: FloatArray,
    sides: int,
    root_t: float,
) -> tuple[FloatArray, FloatArray]:
    """Carry the density to the next continuation region (convolution with N(0, sd^2))."""
    new_s, weights = _region(b, x, w, sides, root_t)
    z = (new_s[:, :, None] - s[:, None, :]) / sd
    kernel = np.exp(-0.5 * z * z) / (sd * math.sqrt(2.0 * math.pi))
    dens = np.einsum("lmn,ln->lm", kernel, g)
    return dens * weights, new_s


@dataclass(frozen=True)
class BoundaryTable:
    """Boundaries at the current look over many levels (to read sequential p-values).

    ``current`` (increasing) are the boundaries and ``nominal`` the matching
    ``z_{1 - level/sides}``; levels whose boundary was lost to float precision are left out.
    ``exact`` maps each level the decision can be taken at to its boundary (None: no alpha
    left); those levels are nodes of the table, so ``p_value(z) <= level`` exactly when
    ``z >= boundary_at(level)``. ``floor`` is the largest level with no alpha left at this
    look (0 if none): no z reaches it, so no p-value is at or below it.
    """

    current: tuple[float, ...]
    nominal: tuple[float, ...]
    sides: int
    exact: tuple[tuple[float, float | None], ...] = ()
    floor: float = 0.0

    def p_value(self, z: float) -> float:
        """Smallest total level at which |z| (or z, one-sided) crosses at this look."""
        c, nominal = self.current, self.nominal
        if z <= 0 or not c:
            return 1.0
        i = bisect.bisect_left(c, z)
        if i == 0:
            return 1.0 if z < c[0] else min(1.0, _tail(nominal[0]) * self.sides)
        if i == len(c) and self.floor > 0:
            return math.nextafter(self.floor, 1.0)
        if len(c) == 1:
            return min(1.0, _tail(nominal[0]) * self.sides)
        i = min(i, len(c) - 1)
        slope = (nominal[i] - nominal[i - 1]) / (c[i] - c[i - 1])
        y = nominal[i - 1] + slope * (z - c[i - 1])
        return max(min(1.0, _tail(y) * self.sides), math.nextafter(self.floor, 1.0))

    def boundary_at(self, level: float) -> float | None:
        """The exact boundary at one of the table's decision levels (None: no alpha left)."""
        for lvl, c in self.exact:
            if lvl == level:
                return c
        raise StatsError(f"level {level!r} is not one of this table's decision levels")


def _tail(y: float) -> float:
    """1 - Phi(y)."""
    return 0.5 * math.erfc(y / math.sqrt(2.0))


@lru_cache(maxsize=256)
def table(
    spending: Spending, plan: Plan, sides: int, exact: tuple[float, ...] = ()
) -> BoundaryTable:
    """Boundary table over 94 levels plus the decision levels `exact`; cached.

    Grid levels within a relative 1e-6 of a decision level are dropped, so that every decision
    level stays a node of the (strictly increasing) table.
    """
    grid = [float(g) for g in _TABLE_LEVELS if all(abs(g - e) > 1e-6 * e for e in exact)]
    levels = np.array(sorted({*grid, *exact}, reverse=True))
    current = boundaries(levels, spending, plan, sides)[:, -1]
    nominal = -special.ndtri(levels / sides)
    lost = current >= C_MAX - 1e-9
    keep = ~lost & (current > 1e-6)
    c_list: list[float] = []
    n_list: list[float] = []
    for c, y in zip(current[keep], nominal[keep], strict=True):
        if not c_list or c > c_list[-1]:
            c_list.append(float(c))
            n_list.append(float(y))
    at = {
        float(lv): (None if gone else float(c))
        for lv, c, gone in zip(levels, current, lost, strict=True)
    }
    floor = float(levels[lost].max()) if lost.any() else 0.0
    return BoundaryTable(
        tuple(c_list), tuple(n_list), sides, tuple((e, at[e]) for e in exact), floor
    )


@lru_cache(maxsize=1024)
def boundary(alpha: float, spending: Spending, plan: Plan, sides: int) -> float | None:
    """The exact boundary at the current look for total level alpha (None: no alpha left)."""
    c = float(boundaries(np.array([alpha]), spending, plan, sides)[0, -1])
    return None if c >= C_MAX - 1e-9 else c


@lru_cache(maxsize=1024)
def alpha_spent(alpha: float, spending: Spending, plan: Plan, sides: int = 2) -> float:
    """Cumulative alpha spent up to and including the current look."""
    return float(spent(spending, alpha, plan.spend_fractions[-1], sides))


def crossing_probability(
    bounds: tuple[float, ...], fractions: tuple[float, ...], sides: int
) -> float:
    """P_H0(some |Z_k| >= c_k) for given boundaries (the same recursion, run forwards)."""
    info = np.asarray(fractions, dtype=float)
    c = np.asarray(bounds, dtype=float)
    total = float(sides * special.ndtr(-c[0]))
    if len(c) == 1:
        return total
    ratio = max(info[j - 1] / (info[j] - info[j - 1]) for j in range(1, len(c)))
    x, w = _nodes(int(min(400, max(48, 24 * math.sqrt(ratio)))))
    g, s = _initial(c[:1], info[0], x, w, sides)
    for j in range(1, len(c)):
        sd = math.sqrt(info[j] - info[j - 1])
        root_t = math.sqrt(info[j])
        b = np.array([c[j] * root_t])
        total += float(_exit(g, s, sd, b, sides)[0])
        if j < len(c) - 1:
            g, s = _propagate(g, s, sd, b, x, w, sides, root_t)
    return total
