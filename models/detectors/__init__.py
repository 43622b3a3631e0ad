"""Anomaly detectors: Isolation Forest, LOF, One-Class SVM, CUSUM, LSTM autoencoder, context novelty, novel level."""
