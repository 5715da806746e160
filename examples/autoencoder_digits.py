"""An autoencoder on the 8x8 digits (cotangent.models.autoencoder.train_autoencoder): 64 pixels
squeezed through 8 numbers and back, trained to give back its input. Plots test digits against
their reconstructions and the loss per epoch; prints how far below the mean image's error the
reconstructions get, the generated model source and the first lines of its generated gradient.

    python examples/autoencoder_digits.py [--epochs 60] [--out out/autoencoder_digits] [--target python|cpu]
"""
from __future__ import annotations

import numpy as np

from cotangent.models import autoencoder as ae

from _common import setup, source_from, training_source
from _digits import image_rows


def main() -> None:
    args = setup("autoencoder_digits", "An autoencoder on the 8x8 digits", epochs=60)
    model, history, (x_train, x_test, y_test), seconds = ae.train_autoencoder(epochs=args.epochs,
                                                                                target=args.target, progress=True)
    print(f"trained {len(history)} epochs in {seconds:.1f} s, compiling included "
          f"({seconds / len(history):.2f} s per epoch)")
    reconstructions = model.predict(x_test)
    rec = ae.reconstruction_error(reconstructions, x_test)
    base = ae.mean_image_error(x_train, x_test)
    print(f"\n{model.describe()}\ntest squared error per image: {rec:.3f} (predicting the mean image: "
          f"{base:.3f}, ratio {rec / base:.2f})")

    print("\nThe generated model source (training function):\n")
    print(training_source(model))
    print("\nThe generated gradient (first lines of the backward pass):\n")
    print(source_from(model.source("grad"), "loss_bar = 1.0", 16))

    pick = np.random.default_rng(1).choice(len(x_test), 12, replace=False)
    mean = np.broadcast_to(x_train.mean(axis=0), (1, x_train.shape[1]))
    image_rows([x_test[pick], reconstructions[pick], mean], ["test digit", "reconstruction", "mean image"],
               args.out / "autoencoder_reconstructions.png",
               f"Autoencoder 64-64-8-64-64: squared error {rec:.2f} per test image, {base:.2f} for the mean image")
    history.plot(args.out / "autoencoder_history.png", title="Autoencoder on the digits: squared error per image")
    print(f"wrote {args.out / 'autoencoder_history.png'}")


if __name__ == "__main__":
    main()
