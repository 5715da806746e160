"""A loop whose trip count depends on the data, differentiated in reverse mode.

The primal sweep counts the trips and pushes the one value the adjoint sweep needs (x at the start
of each trip) on a tape; the adjoint sweep runs the trips backwards, popping it."""
import numpy as np

import cotangent as ct


def drain(x, rate):
    """Euler steps of x' = -rate * x until x < 0.01; returns the area under x."""
    area = 0.0
    while x > 0.01:
        area = area + 0.1 * x
        x = x - 0.1 * rate * x
    return area


if __name__ == "__main__":
    value, (dx, drate) = ct.value_and_grad(drain, argnums=(0, 1))(2.0, 0.5)
    print(f"area = {value:.6f}, d area/dx = {dx:.6f}, d area/drate = {drate:.6f}")
    print(ct.check_grad(drain, 2.0, 0.5))
    print(ct.source(ct.grad(drain, argnums=(0, 1)), 2.0, 0.5))
