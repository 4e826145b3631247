//! The built-in functions of the spec language.
