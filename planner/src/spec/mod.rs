//! Spec loading and evaluation.
