"""The autoencoder and the VAE reconstruct held-out digits far better than the mean image does
(the VAE's KL stays finite and its ELBO improves, its gradient through the reparameterization is
right), and the GAN's generated points come close to the ring of Gaussians it learns; the examples
run.

Everything trains on the Python target, and the examples' smoke runs use it too: the tests check
what the generated code computes, and for these small networks NumPy runs it as fast as Numba does
(benchmarks/modular_compile.py), without a compile. The Numba builds of these models are checked in
test_models_numba.py."""
import numpy as np
import pytest

import cotangent as ct
from cotangent.models import gan
from example_runner import run_example

PY = "python"


@pytest.fixture(scope="module")
def autoencoder():
    pytest.importorskip("sklearn")
    from cotangent.models import autoencoder as ae
    return ae.train_autoencoder(epochs=15, target=PY)          # the example trains 60 epochs


@pytest.fixture(scope="module")
def vae():
    pytest.importorskip("sklearn")
    from cotangent.models import autoencoder as ae
    return ae.train_vae(epochs=15, target=PY)                  # the example trains 60 epochs


@pytest.fixture(scope="module")
def trained_gan():
    return gan.train(steps=1500, log_every=250, snapshots=(0, 1500), target=PY)   # the example: 4000 steps


def test_autoencoder_reconstructs_far_better_than_the_mean_image(autoencoder):
    from cotangent.models import autoencoder as ae
    model, history, (x_train, x_test, _), _ = autoencoder
    reconstructions = model.predict(x_test)
    assert reconstructions.shape == x_test.shape and 0.0 <= reconstructions.min() <= reconstructions.max() <= 1.0
    baseline = ae.mean_image_error(x_train, x_test)
    assert baseline == pytest.approx(np.mean(np.sum((x_test - x_train.mean(axis=0)) ** 2, axis=1)))
    assert ae.reconstruction_error(reconstructions, x_test) < 0.3 * baseline      # 0.17 in the example
    assert history["val_loss"][-1] < 0.5 * history["val_loss"][0]


def test_vae_reconstructs_its_kl_is_finite_and_its_elbo_improves(vae):
    from cotangent.models import autoencoder as ae
    net, history, (x_train, x_test, _), _ = vae
    rec = ae.reconstruction_error(net.reconstruct(x_test), x_test)
    assert rec < 0.35 * ae.mean_image_error(x_train, x_test)                     # 0.18 in the example
    kl = np.array(history["val_kl"])
    assert np.all(np.isfinite(kl)) and np.all(kl > 0.0)
    neg_elbo = history["val_loss"]
    assert np.all(np.isfinite(history["loss"])) and neg_elbo[-1] < 0.6 * neg_elbo[0]
    assert history["loss"][-1] < history["loss"][0]
    mean, logvar = net.encode(x_test)
    assert mean.shape == logvar.shape == (len(x_test), net.latent) and np.all(np.isfinite(logvar))


def test_vae_samples_from_the_prior_look_like_digits(vae):
    from cotangent.models import autoencoder as ae
    net, _, (x_train, _, _), _ = vae
    rng = np.random.default_rng(0)
    samples = net.sample(200, rng)
    assert samples.shape == (200, 64) and np.all((samples >= 0.0) & (samples <= 1.0))
    assert np.std(samples, axis=0).mean() > 0.05                     # not one image over and over

    def nearest_training_image(images):
        d = ((images[:, None, :] - x_train[None, :, :]) ** 2).sum(axis=-1)
        return np.sqrt(d.min(axis=1)).mean()

    untrained = ae.vae(latent=net.latent, seed=1, target=PY).sample(200, rng)
    assert nearest_training_image(samples) < 0.6 * nearest_training_image(untrained)


def test_vae_gradient_through_the_reparameterization_matches_central_differences():
    pytest.importorskip("sklearn")
    from cotangent.models import autoencoder as ae
    net = ae.vae(latent=2, hidden=3, seed=0, target=PY)
    rng = np.random.default_rng(0)
    x = rng.random((4, 64))
    eps = rng.standard_normal((4, 2))
    theta = net.model.params.data + 0.1 * rng.standard_normal(net.model.params.data.size)
    ct.check_grad(ct.differentiable(net.model.train_fn, target=PY), theta, x, eps, x, argnums=0, has_aux=True)
    # the gradient depends on the draw: eps really flows through z
    grad = ct.value_and_grad(ct.differentiable(net.model.train_fn, target=PY), argnums=0, has_aux=True)
    assert not np.allclose(grad(theta, x, eps, x)[1], grad(theta, x, -eps, x)[1])


def test_gan_samples_come_much_closer_to_the_ring_than_at_initialization(trained_gan):
    model, history, snapshots, _ = trained_gan
    first, last = history.records[0], history.records[-1]
    assert first["epoch"] == 0 and last["epoch"] == 1500
    assert abs(last["mean_radius"] - 2.0) < 0.25 * abs(first["mean_radius"] - 2.0)
    assert last["near_mode"] > 0.4 > 10 * first["near_mode"]
    assert last["modes_covered"] >= 6
    assert last["energy_distance"] < 0.2 * first["energy_distance"]
    assert sorted(snapshots) == [0, 1500] and snapshots[1500].shape == (1000, 2)
    assert np.isfinite(last["d_loss"]) and np.isfinite(last["g_loss"])


def test_gan_generator_step_holds_the_discriminator_fixed(trained_gan):
    model = trained_gan[0]
    grad = model.generator.source("grad")
    assert "fake_bar" in grad and "g_W1_bar" in grad
    assert not [name for name in gan.DISC_INPUTS if f"{name}_bar" in grad]
    d_before, g_before = model.discriminator.params.data.copy(), model.generator.params.data.copy()
    rng = np.random.default_rng(5)
    z = rng.standard_normal((64, gan.NOISE))
    step = model.generator.loss_and_grad((z, *model.disc_params()), np.ones((64, 1)))
    model.g_optimizer.step(model.generator.params.data, step.grad)
    assert np.array_equal(model.discriminator.params.data, d_before)
    assert not np.array_equal(model.generator.params.data, g_before)
    real = model.realness(gan.ring(500, rng=rng))
    assert real.shape == (500,) and np.all((real > 0.0) & (real < 1.0))


SMALL_RUNS = [   # script, arguments of a short run, plots it must write
    ("autoencoder_digits.py", ["--target", PY, "--epochs", "2"],
     ["autoencoder_reconstructions.png", "autoencoder_history.png"]),
    ("vae_digits.py", ["--target", PY, "--epochs", "2"], ["vae_reconstructions.png", "vae_samples.png", "vae_history.png"]),
    ("gan_2d.py", ["--target", PY, "--steps", "300"], ["gan_samples.png", "gan_history.png"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("script,args,plots", SMALL_RUNS, ids=[s for s, _, _ in SMALL_RUNS])
def test_example_runs_end_to_end_and_writes_its_plots(script, args, plots, tmp_path):
    pytest.importorskip("matplotlib")
    if "digits" in script:
        pytest.importorskip("sklearn")
    run_example(script, args, tmp_path)
    for name in plots:
        assert (tmp_path / name).stat().st_size > 10_000, name
