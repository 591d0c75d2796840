//! An online copy of an SQLite database.

use super::{Op, Result, Store};

impl Store {
    /// SQLite: writes a consistent copy of the whole database to `file`, a new SQLite
    /// database, while others go on reading and writing (`VACUUM INTO` reads one
    /// snapshot). SQLite itself refuses a file that exists. Returns false on PostgreSQL,
    /// which has tools of its own for this.
    pub async fn vacuum_into(&self, file: &str) -> Result<bool> {
        match self {
            Store::Sqlite(pool) => {
                sqlx::query("VACUUM INTO $1")
                    .bind(file)
                    .execute(pool)
                    .await
                    .op("copying the database")?;
                Ok(true)
            }
            Store::Postgres(_) => Ok(false),
        }
    }
}
