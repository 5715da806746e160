"""An autoencoder and a variational autoencoder (Kingma & Welling, 2014) on the 8x8 digits.

The autoencoder is an `rt.Sequential` 64 -> 64 -> latent -> 64 -> 64 trained to give back its input
(squared error, sigmoid output for pixels in [0, 1]).

The VAE is an `rt.FunctionModel` whose loss, written below as plain NumPy, is the negative ELBO:
the reconstruction term -log p(x|z) plus KL(q(z|x) || N(0, I)). The encoder gives the mean and the
log-variance of q(z|x), and z is drawn by the reparameterization trick,
z = mean + exp(logvar / 2) * eps, with eps ~ N(0, I) drawn outside the compiled function (random
numbers are not drawn inside it) and passed in as the input `eps`: the sample is then a
differentiable function of the encoder's outputs, and cotangent derives the gradient through it.

The decoder's p(x|z) is a Gaussian around the decoded pixels with a fixed standard deviation of 0.1
(a tenth of the pixel range), so -log p(x|z) is the squared error / (2 * 0.01) up to a constant. A
Bernoulli decoder, the usual choice for binary images, pays a large irreducible cross-entropy on
these gray pixels and puts only about 3 nats into z: its reconstructions measured about twice the
squared error of this one's."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cotangent import runtime as rt
from cotangent.runtime.activations import relu, sigmoid

from .digits import load_digits, split
from .fitting import fit_cosine, one_blas_thread

PIXELS = 64
NOISE_VARIANCE = 0.01       # of the decoder's Gaussian p(x|z), per pixel


def digit_vectors(test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): flat 64-pixel vectors in [0, 1] and their labels."""
    x, y = load_digits()
    return split(x, y, test_fraction, seed)


def mean_image_error(x_train: np.ndarray, x: np.ndarray) -> float:
    """The squared error per image of predicting every image of x by the mean training image: what
    a reconstruction has to beat to have learned anything about the particular image."""
    return rt.losses.squared_error(np.broadcast_to(x_train.mean(axis=0), x.shape), x)


def reconstruction_error(reconstructions: np.ndarray, x: np.ndarray) -> float:
    """Squared error summed over the pixels, mean over the images."""
    return rt.losses.squared_error(reconstructions, x)


# --- the autoencoder -----------------------------------------------------------------------------

def autoencoder(latent: int = 8, hidden: int = 64, seed: int = 0, target: str = "cpu") -> rt.Sequential:
    """64 -> hidden (ReLU) -> latent (linear bottleneck) -> hidden (ReLU) -> 64 (sigmoid)."""
    layers = [rt.Dense(hidden, "relu", init="he_uniform"), rt.Dense(latent),
              rt.Dense(hidden, "relu", init="he_uniform"), rt.Dense(PIXELS, "sigmoid")]
    return rt.Sequential(layers, loss="squared_error", input_shape=(PIXELS,), name="autoencoder", seed=seed,
                         target=target)


def train_autoencoder(epochs: int = 15, latent: int = 8, batch_size: int = 32, lr: float = 0.005, seed: int = 0,
                      target: str = "cpu", progress: bool = False) -> tuple[rt.Sequential, rt.History, tuple, float]:
    """Adam (cosine-decayed rate) on the training images, each its own target; the test images are
    the validation data. Returns the model, its history, (x_train, x_test, y_test) and the seconds
    training took (compiling included)."""
    x_train, _, x_test, y_test = digit_vectors(seed=seed)
    model = autoencoder(latent=latent, seed=seed, target=target)
    history, seconds = fit_cosine(model, x_train, x_train, (x_test, x_test), epochs, lr, batch_size, seed, progress)
    return model, history, (x_train, x_test, y_test), seconds


# --- the VAE -------------------------------------------------------------------------------------

def encode(enc_W, enc_b, mean_W, mean_b, logvar_W, logvar_b, x):
    """q(z|x): its mean and log-variance."""
    h = relu(x @ enc_W + enc_b)
    return h @ mean_W + mean_b, h @ logvar_W + logvar_b


def decode(dec_W, dec_b, out_W, out_b, z):
    """The mean of p(x|z): pixels in (0, 1)."""
    h = relu(z @ dec_W + dec_b)
    return sigmoid(h @ out_W + out_b)


def kl_to_standard_normal(mean, logvar):
    """KL(N(mean, exp(logvar)) || N(0, I)), summed over the latent axes, mean over the batch."""
    return -0.5 * np.sum(1.0 + logvar - mean * mean - np.exp(logvar)) / mean.shape[0]


def vae_terms(enc_W, enc_b, mean_W, mean_b, logvar_W, logvar_b, dec_W, dec_b, out_W, out_b, x, eps, target):
    """The two terms of the negative ELBO (-log p(x|z) without its constant, and the KL), and the
    reconstruction, for one draw eps ~ N(0, I) per image."""
    mean, logvar = encode(enc_W, enc_b, mean_W, mean_b, logvar_W, logvar_b, x)
    z = mean + np.exp(0.5 * logvar) * eps
    pixels = decode(dec_W, dec_b, out_W, out_b, z)
    r = pixels - target
    rec = np.sum(r * r) / (2.0 * NOISE_VARIANCE) / x.shape[0]
    return rec, kl_to_standard_normal(mean, logvar), pixels


def vae_loss(enc_W, enc_b, mean_W, mean_b, logvar_W, logvar_b, dec_W, dec_b, out_W, out_b, x, eps, target):
    """The negative ELBO (reconstruction + KL) and the reconstruction: the model's loss."""
    rec, kl, pixels = vae_terms(enc_W, enc_b, mean_W, mean_b, logvar_W, logvar_b, dec_W, dec_b, out_W, out_b,
                                x, eps, target)
    return rec + kl, pixels


def vae_reconstruct(enc_W, enc_b, mean_W, mean_b, logvar_W, logvar_b, dec_W, dec_b, out_W, out_b, x, eps):
    """Pixel means of the reconstruction of x through z = mean + exp(logvar / 2) * eps (pass zeros
    for the reconstruction through the mean of q(z|x))."""
    mean, logvar = encode(enc_W, enc_b, mean_W, mean_b, logvar_W, logvar_b, x)
    return decode(dec_W, dec_b, out_W, out_b, mean + np.exp(0.5 * logvar) * eps)


@dataclass
class VAE:
    """The VAE's FunctionModel, and what one does with a trained one: encode, decode, sample."""
    model: rt.FunctionModel
    latent: int

    def _params(self) -> list[np.ndarray]:
        return list(self.model.params.named().values())

    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and log-variance of q(z|x)."""
        return encode(*self._params()[:6], x)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Pixel means of p(x|z)."""
        return decode(*self._params()[6:], z)

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """Reconstructions through the mean of q(z|x), by the compiled predict function."""
        return self.model.predict((x, np.zeros((len(x), self.latent))))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n images decoded from draws of the prior N(0, I)."""
        return self.decode(rng.standard_normal((n, self.latent)))

    def terms(self, x: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
        """(reconstruction, KL) of the negative ELBO on x for one draw of eps."""
        rec, kl, _ = vae_terms(*self._params(), x, rng.standard_normal((len(x), self.latent)), x)
        return float(rec), float(kl)


def vae(latent: int = 8, hidden: int = 64, seed: int = 0, target: str = "cpu") -> VAE:
    """Encoder 64 -> hidden (ReLU) -> (mean, logvar) of size latent; decoder latent -> hidden (ReLU) -> 64."""
    params = {"enc_W": ((PIXELS, hidden), "he_uniform"), "enc_b": ((hidden,), "zeros"),
              "mean_W": ((hidden, latent), "glorot_uniform"), "mean_b": ((latent,), "zeros"),
              "logvar_W": ((hidden, latent), "glorot_uniform"), "logvar_b": ((latent,), "zeros"),
              "dec_W": ((latent, hidden), "he_uniform"), "dec_b": ((hidden,), "zeros"),
              "out_W": ((hidden, PIXELS), "glorot_uniform"), "out_b": ((PIXELS,), "zeros")}
    model = rt.FunctionModel(vae_loss, params, predict=vae_reconstruct, inputs=("x", "eps"), name="vae_digits",
                             seed=seed, target=target)
    return VAE(model, latent)


def train_vae(epochs: int = 15, latent: int = 8, batch_size: int = 32, lr: float = 0.005, seed: int = 0,
              target: str = "cpu", progress: bool = False) -> tuple[VAE, rt.History, tuple, float]:
    """Adam (rate cosine-decayed to lr / 20) on the training images, with a fresh eps ~ N(0, I) for
    every batch, drawn here from the seeded generator and passed to the compiled gradient. The
    history records per epoch the training loss (the negative ELBO averaged over the epoch's
    batches) and, on the test images for one draw of eps, the negative ELBO and its two terms.
    Returns the VAE, its history, (x_train, x_test, y_test) and the seconds training took
    (compiling included)."""
    from tqdm.auto import tqdm

    x_train, _, x_test, y_test = digit_vectors(seed=seed)
    net = vae(latent=latent, seed=seed, target=target)
    model, rng = net.model, np.random.default_rng(seed)
    n_batches = -(-len(x_train) // batch_size)
    optimizer = rt.Adam(lr=lr, schedule=rt.CosineDecay(lr, total_steps=epochs * n_batches, lr_min=lr / 20))
    history = rt.History()
    start = time.perf_counter()
    with one_blas_thread():
        model.compile((x_train, np.zeros((len(x_train), latent))), x_train, verbose=progress)
        bar = tqdm(total=epochs * n_batches, desc=model.name, unit="batch", disable=not progress, mininterval=0.2)
        with bar:
            for epoch in range(epochs):
                total = 0.0
                for idx in rt.minibatches(len(x_train), batch_size, rng):
                    xb = x_train[idx]
                    eps = rng.standard_normal((len(idx), latent))
                    step = model.loss_and_grad((xb, eps), xb)
                    optimizer.step(model.params.data, step.grad)
                    total += step.loss * len(idx)
                    bar.update(1)
                rec, kl = net.terms(x_test, rng)
                record = {"epoch": epoch + 1, "loss": total / len(x_train), "val_loss": rec + kl,
                          "val_reconstruction": rec, "val_kl": kl}
                history.append(record)
                bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"}, refresh=False)
    return net, history, (x_train, x_test, y_test), time.perf_counter() - start
