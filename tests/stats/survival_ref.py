"""Independent plain-Python references for the survival tests: Kaplan-Meier, Greenwood and
the Greenwood-type RMST variance by loops over the units (no splitlab code)."""

from __future__ import annotations


def hand_km(t: list[float], seen: list[bool]) -> dict[float, tuple[int, int, float, float]]:
    """Per distinct time: (at risk, events, S, Greenwood variance), by plain loops over the
    units (Klein & Moeschberger 2003, eq. 4.2.1 and 4.2.2)."""
    out: dict[float, tuple[int, int, float, float]] = {}
    s, acc = 1.0, 0.0
    for time in sorted(set(t)):
        n = sum(1 for x in t if x >= time)
        d = sum(1 for x, e in zip(t, seen, strict=True) if x == time and e)
        if d:
            s *= 1 - d / n
            if n > d:
                acc += d / (n * (n - d))
        out[time] = (n, d, s, s * s * acc if s > 0 else 0.0)
    return out


def hand_rmst_var(t: list[float], seen: list[bool], tau: float) -> float:
    """sum_{t_j <= tau, n_j > d_j} A_j^2 d_j / (n_j (n_j - d_j)), A_j the area under the KM
    curve from t_j to tau, integrated forwards over each event time's slice (Klein &
    Moeschberger 2003, eq. 4.5.2)."""
    km = hand_km(t, seen)
    steps = [(x, n, d, s) for x, (n, d, s, _) in km.items() if d and x <= tau]
    var = 0.0
    for j, (_, n, d, _) in enumerate(steps):
        area = 0.0
        for k in range(j, len(steps)):
            right = steps[k + 1][0] if k + 1 < len(steps) else tau
            area += steps[k][3] * (right - steps[k][0])
        if n > d:
            var += area * area * d / (n * (n - d))
    return var


def hand_rmst(t: list[float], seen: list[bool], tau: float) -> float:
    """The area under the hand KM step curve from 0 to tau."""
    km = hand_km(t, seen)
    area, s, last = 0.0, 1.0, 0.0
    for x, (_, d, s_after, _) in km.items():
        if x > tau:
            break
        if d:
            area += s * (x - last)
            s, last = s_after, x
    return area + s * (tau - last)
