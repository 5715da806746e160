"""A variational autoencoder on the 8x8 digits (cotangent.models.autoencoder.train_vae): the
encoder gives the mean and log-variance of q(z|x), z = mean + exp(logvar / 2) * eps with eps drawn
outside the compiled gradient and passed in (the reparameterization trick), and the loss is the
negative ELBO, reconstruction + KL. Plots test digits against their reconstructions, digits
decoded from draws of the prior N(0, I), and the ELBO's terms per epoch; prints the loss function
and the first lines of its generated gradient.

    python examples/vae_digits.py [--epochs 60] [--out out/vae_digits] [--target python|cpu]
"""
from __future__ import annotations

import inspect
import numpy as np

from cotangent.models import autoencoder as ae

from _common import pyplot, save, setup, source_from
from _digits import image_rows


def plot_history(history, path) -> None:
    fig, axes = pyplot().subplots(1, 2, figsize=(10, 3.6))
    epochs = history["epoch"]
    axes[0].plot(epochs, history["loss"], label="training -ELBO")
    axes[0].plot(epochs, history["val_loss"], "--", label="test -ELBO")
    axes[1].plot(epochs, history["val_reconstruction"], label="reconstruction, -log p(x|z)")
    axes[1].plot(epochs, history["val_kl"], label="KL(q(z|x) || p(z))")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.legend()
    axes[0].set_title("negative ELBO per image")
    axes[1].set_title("its two terms, test images")
    save(fig, path)


def main() -> None:
    args = setup("vae_digits", "A VAE on the 8x8 digits", epochs=60)
    net, history, (x_train, x_test, y_test), seconds = ae.train_vae(epochs=args.epochs, target=args.target,
                                                                    progress=True)
    epochs = len(history)
    print(f"trained {epochs} epochs in {seconds:.1f} s, compiling included ({seconds / epochs:.2f} s per epoch)")
    first, last = history.records[0], history.records[-1]
    print(f"test -ELBO per image: {first['val_loss']:.2f} after epoch 1, {last['val_loss']:.2f} after "
          f"epoch {last['epoch']} (reconstruction {last['val_reconstruction']:.2f}, KL {last['val_kl']:.2f} nats)")
    rec = ae.reconstruction_error(net.reconstruct(x_test), x_test)
    base = ae.mean_image_error(x_train, x_test)
    print(f"test squared error per image: {rec:.3f} (predicting the mean image: {base:.3f}, ratio {rec / base:.2f})")

    print("\nThe loss cotangent differentiates (eps is an input: it is drawn outside):\n")
    print(inspect.getsource(ae.vae_terms))
    lines, first_line = inspect.getsourcelines(ae.vae_terms)
    z_line = first_line + next(i for i, line in enumerate(lines) if line.strip().startswith("z = "))
    print("The generated gradient, where it goes back through z = mean + exp(logvar / 2) * eps: the\n"
          "adjoint of z reaches the mean as it is, and the log-variance through eps:\n")
    print(source_from(net.model.source("grad"), f"# adjoint of autoencoder.py:{z_line}", 12))

    rng = np.random.default_rng(1)
    pick = rng.choice(len(x_test), 12, replace=False)
    image_rows([x_test[pick], net.reconstruct(x_test[pick])], ["test digit", "reconstruction"],
               args.out / "vae_reconstructions.png",
               f"VAE (latent {net.latent}): test digits and their reconstructions through the mean of q(z|x)")
    samples = net.sample(36, rng)
    image_rows([samples[i:i + 12] for i in range(0, 36, 12)], ["", "", ""], args.out / "vae_samples.png",
               "VAE: digits decoded from z ~ N(0, I)")
    plot_history(history, args.out / "vae_history.png")


if __name__ == "__main__":
    main()
