"""The real Kubernetes test control plane: Go wrapper module, build script, stages and the Python harness."""
