"""Reference models built from cotangent.runtime and the compiler."""
