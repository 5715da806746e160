"""An MLP learns XOR with cotangent.runtime (cotangent.models.mlp.train_xor): the model is generated
as Python source, its whole gradient is one compiled function, and training shows a progress bar.

    python examples/xor_mlp.py [--out out/xor_mlp] [--target cpu|python]
"""
import numpy as np

from cotangent.models import mlp, points

from _common import setup

args = setup("xor_mlp", "An MLP learns XOR")

model, history = mlp.train_xor(target=args.target, progress=True)
X, y = points.xor()

print(model.describe())
print(history)
print("predictions:", np.argmax(model.predict(X), axis=1), "targets:", y)
print("\nThe generated model source:\n")
print(model.source())
print("The generated gradient (first lines):\n")
print("\n".join(model.source("grad").splitlines()[:30]), "\n    ...")
history.plot(args.out / "xor_history.png", title="MLP on XOR")
print(f"wrote {args.out / 'xor_history.png'}")
