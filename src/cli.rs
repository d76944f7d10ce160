//! Command-line definitions (stub).
