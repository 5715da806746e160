"""A small training run with a checkpoint every epoch, for the kill test in test_training.py.

Usage: python training_run.py CHECKPOINT OUT.npy EPOCHS [STALL_AT]. With STALL_AT = n, the n-th
checkpoint write of this process writes part of its temporary file, prints STALLED and waits, so
the test can kill the process while that save is under way. At the end the final parameters are
written to OUT.npy."""
import sys
import time

import numpy as np

from cotangent import runtime as rt


def data():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] * x[:, 1] + x[:, 2] > 0).astype(int)
    return x, y


def model():
    return rt.Sequential([rt.Dense(6, "tanh"), rt.Dense(2)], loss="softmax_cross_entropy",
                         input_shape=(3,), name="kill_test", seed=1, target="python")


def main() -> None:
    checkpoint, out, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if len(sys.argv) > 4:
        stall_at, saves = int(sys.argv[4]), [0]
        real_savez = np.savez

        def stalling_savez(file, **arrays):
            saves[0] += 1
            if saves[0] < stall_at:
                return real_savez(file, **arrays)
            file.write(b"PK\x03\x04 a partly written archive")
            file.flush()
            print("STALLED", flush=True)
            time.sleep(60.0)             # the test kills the process here, mid-save

        np.savez = stalling_savez
    x, y = data()
    m = model()
    rt.fit(m, x, y, optimizer=rt.Adam(lr=0.02), epochs=epochs, batch_size=16, validation_split=0.2,
           seed=7, checkpoint=checkpoint, resume=True, progress=False)
    np.save(out, m.params.data)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
