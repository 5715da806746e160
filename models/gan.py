"""A generative adversarial network (Goodfellow et al., 2014) on a 2-D toy distribution: a ring of
8 Gaussians.

Generator and discriminator are two `rt.FunctionModel`s, each with its own parameters, optimizer
and generated gradient, updated in turn:

- the discriminator D(x) (logits) learns to tell real points (target 1) from generated ones
  (target 0) by binary cross-entropy;
- the generator G(z) learns to make D call its points real, with the non-saturating loss
  -log sigmoid(D(G(z))). This loss goes through the discriminator, so the generator's loss function
  takes the discriminator's weights too, as inputs: cotangent differentiates it only with respect
  to the generator's own parameters (the model's `theta`), which is what holding D fixed means.

The noise z ~ N(0, I) is drawn outside the compiled functions and passed in."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cotangent import runtime as rt
from cotangent.runtime.activations import leaky_relu, relu
from cotangent.runtime.losses import binary_cross_entropy

from .fitting import one_blas_thread

NOISE = 2          # size of z
DISC_INPUTS = ("d_W1", "d_b1", "d_W2", "d_b2", "d_W3", "d_b3")


def ring(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05,
         rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """n points (n, 2) from an equal mixture of `modes` Gaussians of standard deviation `std`
    whose means are evenly spaced on a circle of `radius`."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    angle = 2.0 * np.pi * rng.integers(0, modes, size=n) / modes
    return np.c_[radius * np.cos(angle), radius * np.sin(angle)] + rng.normal(scale=std, size=(n, 2))


def ring_modes(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The means of the ring's Gaussians, (modes, 2)."""
    angle = 2.0 * np.pi * np.arange(modes) / modes
    return np.c_[radius * np.cos(angle), radius * np.sin(angle)]


# --- the two networks, as plain NumPy functions --------------------------------------------------

def generate(g_W1, g_b1, g_W2, g_b2, g_W3, g_b3, z):
    """G(z): points (n, 2) from noise (n, NOISE)."""
    h = relu(z @ g_W1 + g_b1)
    h = relu(h @ g_W2 + g_b2)
    return h @ g_W3 + g_b3


def discriminate(d_W1, d_b1, d_W2, d_b2, d_W3, d_b3, x):
    """D(x): one logit per point (n, 1), large where x looks real."""
    h = leaky_relu(x @ d_W1 + d_b1, 0.2)
    h = leaky_relu(h @ d_W2 + d_b2, 0.2)
    return h @ d_W3 + d_b3


def discriminator_loss(d_W1, d_b1, d_W2, d_b2, d_W3, d_b3, x, target):
    """Cross-entropy of D on a batch of real (target 1) and generated (target 0) points."""
    logits = discriminate(d_W1, d_b1, d_W2, d_b2, d_W3, d_b3, x)
    return binary_cross_entropy(logits, target), logits


def discriminator_predict(d_W1, d_b1, d_W2, d_b2, d_W3, d_b3, x):
    """D(x), the logits."""
    return discriminate(d_W1, d_b1, d_W2, d_b2, d_W3, d_b3, x)


def generator_loss(g_W1, g_b1, g_W2, g_b2, g_W3, g_b3, z, d_W1, d_b1, d_W2, d_b2, d_W3, d_b3, target):
    """-log sigmoid(D(G(z))) (target all ones): the generator is rewarded where D is fooled. The
    d_* arguments are inputs, not parameters, so no gradient reaches them."""
    fake = generate(g_W1, g_b1, g_W2, g_b2, g_W3, g_b3, z)
    logits = discriminate(d_W1, d_b1, d_W2, d_b2, d_W3, d_b3, fake)
    return binary_cross_entropy(logits, target), fake


def generator_predict(g_W1, g_b1, g_W2, g_b2, g_W3, g_b3, z, d_W1, d_b1, d_W2, d_b2, d_W3, d_b3):
    """G(z); it takes the discriminator's weights only because every function of the generator
    model takes the model's inputs."""
    return generate(g_W1, g_b1, g_W2, g_b2, g_W3, g_b3, z)


# --- the pair ------------------------------------------------------------------------------------

@dataclass
class GAN:
    """The generator and discriminator models, and their optimizers."""
    generator: rt.FunctionModel
    discriminator: rt.FunctionModel
    g_optimizer: rt.Optimizer
    d_optimizer: rt.Optimizer

    def disc_params(self) -> tuple[np.ndarray, ...]:
        """The discriminator's weights (views of its buffer), in the order the generator takes them."""
        named = self.discriminator.params.named()
        return tuple(named[n] for n in DISC_INPUTS)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n generated points."""
        return self.generator.predict((rng.standard_normal((n, NOISE)), *self.disc_params()))

    def realness(self, x: np.ndarray) -> np.ndarray:
        """sigmoid(D(x)): the discriminator's probability that each point is real."""
        return 0.5 + 0.5 * np.tanh(0.5 * self.discriminator.predict(x)[:, 0])

    def step(self, real: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
        """One discriminator update on `real` and as many generated points, then one generator
        update on fresh noise; returns (discriminator loss, generator loss)."""
        n = len(real)
        fake = self.sample(n, rng)
        x = np.concatenate([real, fake])
        target = np.concatenate([np.ones(n), np.zeros(n)])[:, None]
        d = self.discriminator.loss_and_grad(x, target)
        self.d_optimizer.step(self.discriminator.params.data, d.grad)
        z = rng.standard_normal((n, NOISE))
        g = self.generator.loss_and_grad((z, *self.disc_params()), np.ones((n, 1)))
        self.g_optimizer.step(self.generator.params.data, g.grad)
        return d.loss, g.loss


def gan(hidden: int = 64, lr: float = 1e-3, seed: int = 0, target: str = "cpu") -> GAN:
    """G: NOISE -> hidden -> hidden (ReLU) -> 2; D: 2 -> hidden -> hidden (leaky ReLU) -> 1 logit.
    Adam with beta1 = 0.5 for both, the usual choice for GANs (less momentum to carry a step that
    the other player has made stale)."""
    g_params = {"g_W1": ((NOISE, hidden), "he_uniform"), "g_b1": ((hidden,), "zeros"),
                "g_W2": ((hidden, hidden), "he_uniform"), "g_b2": ((hidden,), "zeros"),
                "g_W3": ((hidden, 2), "glorot_uniform"), "g_b3": ((2,), "zeros")}
    d_params = {"d_W1": ((2, hidden), "he_uniform"), "d_b1": ((hidden,), "zeros"),
                "d_W2": ((hidden, hidden), "he_uniform"), "d_b2": ((hidden,), "zeros"),
                "d_W3": ((hidden, 1), "glorot_uniform"), "d_b3": ((1,), "zeros")}
    generator = rt.FunctionModel(generator_loss, g_params, predict=generator_predict,
                                 inputs=("z", *DISC_INPUTS), name="gan_generator", seed=seed, target=target)
    discriminator = rt.FunctionModel(discriminator_loss, d_params, predict=discriminator_predict,
                                     loss_kind="binary_cross_entropy", name="gan_discriminator", seed=seed + 1,
                                     target=target)
    return GAN(generator, discriminator, rt.Adam(lr=lr, beta1=0.5), rt.Adam(lr=lr, beta1=0.5))


# --- how close the generated points are ----------------------------------------------------------

def energy_distance(a: np.ndarray, b: np.ndarray) -> float:
    """2 E|a - b| - E|a - a'| - E|b - b'| (Szekely & Rizzo): 0 exactly when the two distributions
    agree, a two-sample distance that needs no binning."""
    def mean_dist(p, q):
        return float(np.mean(np.sqrt(np.sum((p[:, None, :] - q[None, :, :]) ** 2, axis=-1))))
    return 2.0 * mean_dist(a, b) - mean_dist(a, a) - mean_dist(b, b)


def statistics(points: np.ndarray, real: np.ndarray, modes: np.ndarray, near: float = 0.25) -> dict[str, float]:
    """Mean radius, the fraction within `near` of a mode, how many modes get at least 1% of the
    points, and the energy distance to the real sample."""
    dist = np.sqrt(((points[:, None, :] - modes[None, :, :]) ** 2).sum(axis=-1))
    closest = np.argmin(dist, axis=1)
    is_near = dist[np.arange(len(points)), closest] < near
    counts = np.bincount(closest[is_near], minlength=len(modes))
    return {"mean_radius": float(np.mean(np.linalg.norm(points, axis=1))),
            "near_mode": float(np.mean(is_near)),
            "modes_covered": int(np.sum(counts >= 0.01 * len(points))),
            "energy_distance": energy_distance(points, real)}


def train(steps: int = 1500, batch_size: int = 128, lr: float = 1e-3, seed: int = 0, target: str = "cpu",
          log_every: int = 100, snapshots: tuple[int, ...] = (),
          progress: bool = False) -> tuple[GAN, rt.History, dict[int, np.ndarray], float]:
    """Alternate discriminator and generator updates for `steps` steps, real points drawn fresh
    from the ring each step. Every `log_every` steps the history records both losses and the
    statistics of 1,000 generated points against 1,000 real ones (its "epoch" is the step).
    Returns the GAN, the history, {step: generated points} at `snapshots` (step 0 = before
    training), and the seconds it took."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    model = gan(lr=lr, seed=seed, target=target)
    real_eval, modes = ring(1000, rng=rng), ring_modes()
    eval_noise = np.random.default_rng(seed + 1)
    history, taken = rt.History(), {}
    bar = tqdm(total=steps, desc="gan", unit="step", disable=not progress, mininterval=0.2)

    def look(step: int, losses: dict) -> None:
        """Snapshot and record the generated points after `step` steps, when asked to."""
        logged = step % log_every == 0 or step == steps
        if step not in snapshots and not logged:
            return
        points = model.sample(1000, eval_noise)
        if step in snapshots:
            taken[step] = points
        if logged:
            record = {"epoch": step, **statistics(points, real_eval, modes), **losses}
            history.append(record)
            bar.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k != "epoch"}, refresh=False)

    start = time.perf_counter()
    with one_blas_thread(), bar:
        look(0, {})
        for step in range(1, steps + 1):
            d_loss, g_loss = model.step(ring(batch_size, rng=rng), rng)
            bar.update(1)
            look(step, {"d_loss": d_loss, "g_loss": g_loss})
    return model, history, taken, time.perf_counter() - start
