"""Three small robotics functions whose Jacobians are evaluated millions of times, each written
three ways with the same maths: plain Python/NumPy (what cotangent compiles), SymForce symbolic
code, and JAX.

- project: a pinhole camera with radial distortion seeing a point through a pose given as a
  rotation vector (Rodrigues' formula) and a translation. Jacobian of the pixel (2) with respect
  to the rotation, the translation and the point (3 + 3 + 3).
- arm: the end effector (x, y) of a planar arm of three links. Jacobian with respect to the three
  joint angles.
- pose_residual: the error between the relative pose of b seen from a (SE(3) "between") and a
  measured relative pose: log(Rm^T Ra^T Rb) and Ra^T (tb - ta) - tm. Jacobian of the 6 errors
  with respect to both poses (3 + 3 + 3 + 3).

`inputs(name, n, seed)` draws n inputs (batched arrays, then the shared constants);
`ARGNUMS[name]` are the differentiated arguments and `AXES[name]` the vmap axes."""
from __future__ import annotations

import numpy as np

NAMES = ("project", "arm", "pose_residual")


# --- plain Python: what cotangent compiles --------------------------------------------------------

def rodrigues(r):
    """The rotation matrix of the rotation vector r (angle |r| about r / |r|)."""
    theta = np.sqrt(r[0] ** 2 + r[1] ** 2 + r[2] ** 2)
    k = r / theta
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * K + (1.0 - np.cos(theta)) * (K @ K)


def project(rvec, t, p, f, c, k):
    """The pixel where the camera (rotation vector rvec, translation t; focal lengths f, principal
    point c, radial distortion k) sees the point p."""
    R = rodrigues(rvec)
    pc = R @ p + t
    x = pc[0] / pc[2]
    y = pc[1] / pc[2]
    r2 = x * x + y * y
    d = 1.0 + k[0] * r2 + k[1] * r2 * r2
    return np.array([f[0] * d * x + c[0], f[1] * d * y + c[1]])


def arm(q, lengths):
    """The end effector of a planar arm: link i turns by q[i] from the link before it."""
    x = 0.0
    y = 0.0
    a = 0.0
    for i in range(3):
        a = a + q[i]
        x = x + lengths[i] * np.cos(a)
        y = y + lengths[i] * np.sin(a)
    return np.array([x, y])


def so3_log(E):
    """The rotation vector of the rotation matrix E (angles in (0, pi))."""
    angle = np.arccos((E[0, 0] + E[1, 1] + E[2, 2] - 1.0) * 0.5)
    s = angle / (2.0 * np.sin(angle))
    return np.array([E[2, 1] - E[1, 2], E[0, 2] - E[2, 0], E[1, 0] - E[0, 1]]) * s


def pose_residual(ra, ta, rb, tb, rm, tm):
    """Rotation and translation error of the pose of b relative to a against the measured (rm, tm)."""
    Ra = rodrigues(ra)
    Rb = rodrigues(rb)
    Rm = rodrigues(rm)
    R_rel = Ra.T @ Rb
    t_rel = Ra.T @ (tb - ta)
    w = so3_log(Rm.T @ R_rel)
    return np.concatenate((w, t_rel - tm))


FUNCTIONS = {"project": project, "arm": arm, "pose_residual": pose_residual}
ARGNUMS = {"project": (0, 1, 2), "arm": (0,), "pose_residual": (0, 1, 2, 3)}
AXES = {"project": (0, 0, 0, None, None, None), "arm": (0, None), "pose_residual": (0, 0, 0, 0, None, None)}


def inputs(name: str, n: int, seed: int = 0) -> tuple:
    """n inputs of the function: the batched arguments with n rows, then the shared ones."""
    rng = np.random.default_rng(seed)
    if name == "project":
        rvec = rng.normal(size=(n, 3)) * 0.4 + 0.1
        t = rng.normal(size=(n, 3)) * 0.2 + np.array([0.0, 0.0, 4.0])
        p = rng.normal(size=(n, 3))
        return rvec, t, p, np.array([520.0, 515.0]), np.array([320.0, 240.0]), np.array([0.08, -0.02])
    if name == "arm":
        return rng.uniform(-np.pi, np.pi, size=(n, 3)), np.array([1.0, 0.7, 0.4])
    if name == "pose_residual":
        ra, rb = rng.normal(size=(n, 3)) * 0.5 + 0.1, rng.normal(size=(n, 3)) * 0.5 - 0.1
        ta, tb = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
        return ra, ta, rb, tb, np.array([0.3, -0.2, 0.4]), np.array([0.1, 0.2, -0.1])
    raise KeyError(name)


def sample(args: tuple, name: str, i: int = 0) -> tuple:
    """Input i of a batch drawn by `inputs`."""
    return tuple(a[i] if ax == 0 else a for a, ax in zip(args, AXES[name]))


# --- SymForce: the same maths as symbolic code ------------------------------------------------------

def symforce_functions():
    """{name: (function, input types)}, written with symforce.symbolic (imported here: SymForce is
    optional)."""
    import symforce.symbolic as sf

    def sf_rodrigues(r):
        theta = sf.sqrt(r[0] ** 2 + r[1] ** 2 + r[2] ** 2)
        k = r / theta
        K = sf.M33([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
        return sf.M33.eye() + sf.sin(theta) * K + (1.0 - sf.cos(theta)) * (K * K)

    def sf_project(rvec, t, p, f, c, k):
        R = sf_rodrigues(rvec)
        pc = R * p + t
        x = pc[0] / pc[2]
        y = pc[1] / pc[2]
        r2 = x * x + y * y
        d = 1.0 + k[0] * r2 + k[1] * r2 * r2
        return sf.V2(f[0] * d * x + c[0], f[1] * d * y + c[1])

    def sf_arm(q, lengths):
        x, y, a = 0.0, 0.0, 0.0
        for i in range(3):
            a = a + q[i]
            x = x + lengths[i] * sf.cos(a)
            y = y + lengths[i] * sf.sin(a)
        return sf.V2(x, y)

    def sf_pose_residual(ra, ta, rb, tb, rm, tm):
        Ra, Rb, Rm = sf_rodrigues(ra), sf_rodrigues(rb), sf_rodrigues(rm)
        R_rel = Ra.T * Rb
        t_rel = Ra.T * (tb - ta)
        E = Rm.T * R_rel
        angle = sf.acos((E[0, 0] + E[1, 1] + E[2, 2] - 1.0) * 0.5)
        s = angle / (2.0 * sf.sin(angle))
        w = sf.V3(E[2, 1] - E[1, 2], E[0, 2] - E[2, 0], E[1, 0] - E[0, 1]) * s
        e = t_rel - tm
        return sf.V6(w[0], w[1], w[2], e[0], e[1], e[2])

    return {"project": (sf_project, [sf.V3, sf.V3, sf.V3, sf.V2, sf.V2, sf.V2]),
            "arm": (sf_arm, [sf.V3, sf.V3]),
            "pose_residual": (sf_pose_residual, [sf.V3] * 6)}


SYMFORCE_ARGS = {"project": ["rvec", "t", "p"], "arm": ["q"], "pose_residual": ["ra", "ta", "rb", "tb"]}


# --- JAX: the same maths with jax.numpy ------------------------------------------------------------

def jax_functions():
    import jax.numpy as jnp

    def j_rodrigues(r):
        theta = jnp.sqrt(r[0] ** 2 + r[1] ** 2 + r[2] ** 2)
        k = r / theta
        K = jnp.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
        return jnp.eye(3) + jnp.sin(theta) * K + (1.0 - jnp.cos(theta)) * (K @ K)

    def j_project(rvec, t, p, f, c, k):
        pc = j_rodrigues(rvec) @ p + t
        x = pc[0] / pc[2]
        y = pc[1] / pc[2]
        r2 = x * x + y * y
        d = 1.0 + k[0] * r2 + k[1] * r2 * r2
        return jnp.array([f[0] * d * x + c[0], f[1] * d * y + c[1]])

    def j_arm(q, lengths):
        x = y = a = 0.0
        for i in range(3):
            a = a + q[i]
            x = x + lengths[i] * jnp.cos(a)
            y = y + lengths[i] * jnp.sin(a)
        return jnp.array([x, y])

    def j_pose_residual(ra, ta, rb, tb, rm, tm):
        Ra, Rb, Rm = j_rodrigues(ra), j_rodrigues(rb), j_rodrigues(rm)
        E = Rm.T @ (Ra.T @ Rb)
        t_rel = Ra.T @ (tb - ta)
        angle = jnp.arccos((E[0, 0] + E[1, 1] + E[2, 2] - 1.0) * 0.5)
        s = angle / (2.0 * jnp.sin(angle))
        w = jnp.array([E[2, 1] - E[1, 2], E[0, 2] - E[2, 0], E[1, 0] - E[0, 1]]) * s
        return jnp.concatenate((w, t_rel - tm))

    return {"project": j_project, "arm": j_arm, "pose_residual": j_pose_residual}
