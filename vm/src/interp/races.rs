//! Shared-memory race detection between barriers.
//!
//! Every shared element remembers, for the current *epoch* (the stretch of execution since the last `sync`),
//! which threads wrote it and which read it, and the statement that did. A write and another access of the
//! same element by *different* threads in one epoch is a data race. The threads of an access are the
//! threads whose layout holds the element in the register tile stored or loaded; replicas writing the same
//! element in one instruction are not a race, but two instructions writing an element from threads
//! `{0, 1}` are (thread 1's write may land after thread 0's). An asynchronous copy counts as a write by
//! every thread and stays *pending* until `copy_wait`: touching a pending element is a race even after a
//! `sync`, and after `copy_wait` the data still needs a `sync` before other threads may read it.
//!
//! Only the kind of the thread set matters for the test "some thread of A differs from some thread of B":
//! it fails only when both are the same single thread. So a set is either one thread or many.

use crate::ir::Stmt;

/// The threads of an access: one thread, or more than one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Threads {
    /// Exactly this thread.
    One(u32),
    /// Two or more threads.
    Many,
}

impl Threads {
    /// The union of two sets.
    pub fn merge(self, other: Threads) -> Threads {
        match (self, other) {
            (Threads::One(a), Threads::One(b)) if a == b => self,
            _ => Threads::Many,
        }
    }

    /// Whether a thread of `self` differs from a thread of `other`.
    pub fn conflicts(self, other: Threads) -> bool {
        !matches!((self, other), (Threads::One(a), Threads::One(b)) if a == b)
    }
}

/// A detected race: the earlier statement and what kind of conflict.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Race<'k> {
    /// The earlier access.
    pub other: &'k Stmt,
    /// A short description.
    pub conflict: &'static str,
}

/// What happened to one shared element in the current epoch.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ElementAccess<'k> {
    epoch: u64,
    write: Option<(Threads, &'k Stmt)>,
    read: Option<(Threads, &'k Stmt)>,
    pending_copy: Option<&'k Stmt>,
}

impl<'k> ElementAccess<'k> {
    /// Records a read by `threads` at `stmt`.
    pub fn read(&mut self, epoch: u64, threads: Threads, stmt: &'k Stmt) -> Result<(), Race<'k>> {
        self.enter(epoch);
        if let Some(other) = self.pending_copy {
            return Err(Race {
                other,
                conflict: "read of data copied asynchronously before `copy_wait` and `sync`",
            });
        }
        if let Some((writers, other)) = self.write
            && writers.conflicts(threads)
        {
            return Err(Race {
                other,
                conflict: "read of a value another thread wrote since the last `sync`",
            });
        }
        self.read =
            Some(self.read.map_or((threads, stmt), |(readers, first)| (readers.merge(threads), first)));
        Ok(())
    }

    /// Records a write by `threads` at `stmt`; `asynchronous` for `copy_async`, whose data lands at `copy_wait`.
    pub fn write(
        &mut self,
        epoch: u64,
        threads: Threads,
        stmt: &'k Stmt,
        asynchronous: bool,
    ) -> Result<(), Race<'k>> {
        self.enter(epoch);
        if let Some(other) = self.pending_copy {
            return Err(Race {
                other,
                conflict: "write to an element an asynchronous copy is still writing",
            });
        }
        if let Some((writers, other)) = self.write
            && writers.conflicts(threads)
        {
            return Err(Race { other, conflict: "two threads wrote the element since the last `sync`" });
        }
        if let Some((readers, other)) = self.read
            && readers.conflicts(threads)
        {
            return Err(Race {
                other,
                conflict: "write of an element another thread read since the last `sync`",
            });
        }
        self.write = Some(self.write.map_or((threads, stmt), |(writers, _)| (writers.merge(threads), stmt)));
        if asynchronous {
            self.pending_copy = Some(stmt);
        }
        Ok(())
    }

    /// `copy_wait`: pending asynchronous data has landed.
    pub fn land_copy(&mut self) {
        self.pending_copy = None;
    }

    fn enter(&mut self, epoch: u64) {
        if self.epoch != epoch {
            self.epoch = epoch;
            self.write = None;
            self.read = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Inst, Span, StmtKind};

    fn stmt() -> Stmt {
        Stmt { kind: StmtKind::Inst(Inst::Sync), span: Span::default() }
    }

    #[test]
    fn same_thread_may_write_and_read_without_sync() {
        let (first, second) = (stmt(), stmt());
        let mut access = ElementAccess::default();
        assert!(access.write(0, Threads::One(3), &first, false).is_ok());
        assert!(access.read(0, Threads::One(3), &second).is_ok());
        assert!(access.write(0, Threads::One(3), &second, false).is_ok());
        assert!(access.read(0, Threads::One(4), &second).is_err());
    }

    #[test]
    fn sync_separates_epochs() {
        let (first, second) = (stmt(), stmt());
        let mut access = ElementAccess::default();
        assert!(access.write(0, Threads::One(0), &first, false).is_ok());
        assert!(access.read(1, Threads::One(1), &second).is_ok());
        assert!(access.write(1, Threads::One(1), &second, false).is_ok(), "only thread 1 read it this epoch");
        assert!(access.write(1, Threads::One(2), &second, false).is_err());
    }

    #[test]
    fn replicated_write_then_read_by_one_of_them_is_a_race() {
        let (first, second) = (stmt(), stmt());
        let mut access = ElementAccess::default();
        assert!(access.write(0, Threads::Many, &first, false).is_ok());
        let race = access.read(0, Threads::One(0), &second);
        assert!(race.is_err_and(|race| std::ptr::eq(race.other, &first)));
    }

    #[test]
    fn async_copies_need_wait_and_sync() {
        let (copy, load) = (stmt(), stmt());
        let mut access = ElementAccess::default();
        assert!(access.write(0, Threads::Many, &copy, true).is_ok());
        assert!(access.read(1, Threads::One(0), &load).is_err(), "sync without copy_wait");
        access.land_copy();
        assert!(access.read(1, Threads::One(0), &load).is_ok());
    }
}
