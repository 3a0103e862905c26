//! The `flowgate` command-line tool.
pub mod emulator;
