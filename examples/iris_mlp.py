"""The 4-8-3 MLP (ReLU hidden layer, softmax output) on Fisher's Iris flowers, trained with Adam
(cotangent.models.mlp.train_iris). Prints the training accuracy, the confusion matrix, the model's
generated source and the first lines of its generated gradient; plots loss and accuracy per epoch.
The data ship with scikit-learn (pip install 'cotangent[examples]'): nothing is downloaded.

    python examples/iris_mlp.py [--epochs 100] [--out out/iris_mlp] [--target cpu|python]
"""
from __future__ import annotations

import time

import numpy as np

from cotangent import runtime as rt
from cotangent.models import mlp

from _common import setup, training_source


def main() -> None:
    args = setup("iris_mlp", "The 4-8-3 MLP on Iris", epochs=100)

    start = time.perf_counter()
    model, history = mlp.train_iris(epochs=args.epochs, target=args.target, progress=True)
    print(f"trained in {time.perf_counter() - start:.1f} s (compile included)")
    x, y = mlp.load_iris()
    result = rt.evaluate(model, x, y)
    print(f"\n{model.describe()}\ntraining accuracy {result['accuracy']:.4f}, loss {result['loss']:.4f}")
    predicted = np.argmax(model.predict(x), axis=1)
    print("\nconfusion matrix (rows: species, columns: predicted)")
    for k, name in enumerate(mlp.IRIS_CLASSES):
        print(f"  {name:<11}", " ".join(f"{np.sum((y == k) & (predicted == j)):3d}" for j in range(3)))

    print("\nThe generated model source (training function; the parameters are views of one flat buffer):\n")
    print(training_source(model))
    grad = model.source("grad")
    print("\nThe generated gradient (first lines of the backward pass):\n")
    seed = grad.find("loss_bar = 1.0")            # where the adjoint sweep starts
    backward = grad.rfind("\n", 0, seed) + 1 if seed >= 0 else grad.index("def iris_train_grad")
    print("\n".join(grad[backward:].splitlines()[:24]), "\n    ...")
    history.plot(args.out / "iris_history.png", title=f"4-8-3 MLP on Iris: {result['accuracy']:.1%} training accuracy")
    print(f"\nwrote {args.out / 'iris_history.png'}")


if __name__ == "__main__":
    main()
