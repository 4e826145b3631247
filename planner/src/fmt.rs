//! `ss fmt`: canonical formatting of spec files.
