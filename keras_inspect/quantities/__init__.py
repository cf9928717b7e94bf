"""Pure NumPy / scikit-learn functions: arrays in, arrays or floats out.

Nothing in this package imports Keras, TensorFlow or TensorBoard, or touches a file.
"""
