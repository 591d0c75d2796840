//! CSV import's reading half, shared by `POST /api/upload-csv` and `doorman import`: the
//! file is read on a blocking thread and handed over in batches, so memory stays flat
//! however long the file is. The service writes the batches (see `service::import`).

pub mod reader;

use tokio::sync::{mpsc, oneshot};

use crate::domain::invitee::NewInvitee;
use reader::{CsvError, RowError};

/// Rows handed over at a time: as many as the store inserts at once.
const BATCH_ROWS: usize = crate::store::INSERT_BATCH_ROWS;

/// How far an import has got, for progress bars.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub bytes_read: u64,
    pub rows: u64,
}

/// Consecutive rows of the file: the valid ones and the refused ones.
pub struct Batch {
    pub rows: Vec<NewInvitee>,
    pub errors: Vec<RowError>,
    /// Bytes of the file read once this batch was.
    pub bytes_read: u64,
}

impl Batch {
    /// Rows read, good and bad.
    pub fn len(&self) -> usize {
        self.rows.len() + self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Runs on a blocking thread: parses the file and sends it on in batches. Whether the
/// header is usable is sent first, on `header`, before any batch.
pub fn read_batches(
    file: std::fs::File,
    header: oneshot::Sender<Result<(), CsvError>>,
    batches: mpsc::Sender<Batch>,
) {
    let mut rows = match reader::read_csv(file) {
        Ok(rows) => {
            let _ = header.send(Ok(()));
            rows
        }
        Err(e) => {
            let _ = header.send(Err(e));
            return;
        }
    };
    loop {
        let mut batch = Batch {
            rows: Vec::with_capacity(BATCH_ROWS),
            errors: Vec::new(),
            bytes_read: 0,
        };
        for row in rows.by_ref() {
            match row {
                Ok(invitee) => batch.rows.push(invitee),
                Err(error) => batch.errors.push(error),
            }
            if batch.len() >= BATCH_ROWS {
                break;
            }
        }
        batch.bytes_read = rows.bytes_read();
        if batch.is_empty() || batches.blocking_send(batch).is_err() {
            return;
        }
    }
}
