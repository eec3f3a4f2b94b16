//! The pool of read-only connections that serve the reads beside the writer (WAL).

use super::*;

pub(super) struct ReaderPool {
    pub(super) path: PathBuf,
    pub(super) options: SqliteOptions,
    pub(super) conns: Mutex<Vec<Connection>>,
    pub(super) permits: Semaphore,
}

impl ReaderPool {
    pub(super) fn open_reader(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .db()?;
        conn.busy_timeout(self.options.busy_timeout).db()?;
        conn.execute_batch(&format!(
            "PRAGMA cache_size=-{};",
            self.options.reader_cache_kib
        ))
        .db()?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    pub(super) fn take(&self) -> Option<Connection> {
        self.conns.lock().ok().and_then(|mut c| c.pop())
    }

    pub(super) fn put(&self, conn: Connection) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.push(conn);
        }
    }
}
