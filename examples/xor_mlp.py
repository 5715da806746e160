"""An MLP learns XOR with cotangent.runtime: the model is generated as Python source, its whole
gradient is one compiled function, and training shows a progress bar.

    python examples/xor_mlp.py            # writes out/xor_history.png when matplotlib is installed
"""
from pathlib import Path

import numpy as np

from cotangent import runtime as rt

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = np.array([0, 1, 1, 0])

model = rt.Sequential([rt.Dense(8, "tanh"), rt.Dense(2)], loss="softmax_cross_entropy",
                      input_shape=(2,), name="xor", seed=0)
history = rt.fit(model, X, y, optimizer=rt.Adam(lr=0.05), epochs=300, batch_size=4, seed=0)

print(model.describe())
print(history)
print("predictions:", np.argmax(model.predict(X), axis=1), "targets:", y)
print("\nThe generated model source:\n")
print(model.source())
print("The generated gradient (first lines):\n")
print("\n".join(model.source("grad").splitlines()[:30]), "\n    ...")
try:
    out = Path("out")
    history.plot(out / "xor_history.png", title="MLP on XOR")
    print(f"wrote {out / 'xor_history.png'}")
except ImportError as e:
    print(e)
