//! The in-process store.

/// The default store: a bounded map in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryStore {}
