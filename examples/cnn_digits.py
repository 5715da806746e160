"""A LeNet-style CNN on the 8x8 digits (cotangent.models.cnn.train): two blocks of 3x3
convolution, ReLU and 2x2 max pooling, then a dense ReLU layer and a softmax over the 10 digits,
trained on 80% of the 1,797 images and tested on the other 20%. Prints the test accuracy, the
confusion matrix, the time per epoch, the generated model source and the first lines of its
generated gradient; plots loss and accuracy per epoch, and the test digits it gets wrong.

Runs on Numba by default (the gradient compiles in about 18 s the first time, layer by layer, and
an epoch takes about half as long as with --target python, the same code run by NumPy).

    python examples/cnn_digits.py [--epochs 30] [--out out/cnn_digits] [--target python|cpu]
"""
from __future__ import annotations

import numpy as np

from cotangent import runtime as rt
from cotangent.models import cnn

from _common import setup, source_from, training_source
from _digits import image_rows


def main() -> None:
    args = setup("cnn_digits", "A LeNet-style CNN on the 8x8 digits", epochs=30)
    model, history, (x_test, y_test), seconds = cnn.train(epochs=args.epochs, target=args.target, progress=True)
    print(f"trained {len(history)} epochs in {seconds:.1f} s, compiling included "
          f"({seconds / len(history):.2f} s per epoch)")
    result = rt.evaluate(model, x_test, y_test)
    print(f"\n{model.describe()}\n\ntest accuracy {result['accuracy']:.4f} on {len(y_test)} held-out images")
    counts = cnn.confusion(model, x_test, y_test)
    print("\nconfusion matrix (rows: digit, columns: predicted)\n     " + " ".join(f"{k:3d}" for k in range(10)))
    for k in range(10):
        print(f"  {k}  " + " ".join(f"{c:3d}" for c in counts[k]))

    print("\nThe generated model source (training function):\n")
    print(training_source(model))
    print("\nThe generated gradient, from where it reaches the second convolution (its weights' gradient is a\n"
          "matrix product, then the reversed im2col loop adds each column block back into the padded input):\n")
    print(source_from(model.source("grad"), "# adjoint of conv.py", 31))

    history.plot(args.out / "cnn_digits_history.png",
                 title=f"LeNet-style CNN on the 8x8 digits: {result['accuracy']:.1%} test accuracy")
    print(f"wrote {args.out / 'cnn_digits_history.png'}")
    predicted = np.argmax(model.predict(x_test), axis=1)
    wrong = np.flatnonzero(predicted != y_test)[:12]
    right = np.flatnonzero(predicted == y_test)[:12]
    image_rows([x_test[right], x_test[wrong]], ["right", "wrong"], args.out / "cnn_digits_predictions.png",
               f"Test digits, predicted (true): {len(wrong)} of {len(y_test)} wrong" if len(wrong) < 12 else
               "Test digits, predicted (true)",
               captions=[[f"{predicted[i]}" for i in right], [f"{predicted[i]} ({y_test[i]})" for i in wrong]])


if __name__ == "__main__":
    main()
