"""tensorflow-datasets builders the tests prepare (a package: tfds locates a builder's
checksums beside its module, the code path every catalogue dataset takes)."""
