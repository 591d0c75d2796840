// TEMPORARY placeholder until the real reader lands.
use crate::domain::Email;
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not a CSV text file ({0})")]
    NotText(String),
    #[error("missing required column(s): {}", .0.join(", "))]
    MissingColumns(Vec<String>),
    #[error("could not read the file: {0}")]
    Io(#[from] std::io::Error),
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub email: Email,
    pub name: String,
    pub college: String,
    pub branch: String,
    pub year: String,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub email: Option<String>,
    pub message: String,
}
pub struct CsvRows {
    rows: std::vec::IntoIter<Result<Candidate, RowError>>,
}
impl Iterator for CsvRows {
    type Item = Result<Candidate, RowError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.rows.next()
    }
}
impl CsvRows {
    pub fn bytes_read(&self) -> u64 {
        0
    }
}
pub fn read_csv(file: std::fs::File) -> Result<CsvRows, CsvError> {
    let mut r = csv::Reader::from_reader(file);
    let mut out = vec![];
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| CsvError::Io(std::io::Error::other(e)))?;
        let email = Email::parse(&rec[0]).map_err(|e| RowError {
            line: i as u64 + 2,
            email: None,
            message: e.to_string(),
        });
        out.push(email.map(|email| Candidate {
            email,
            name: rec[1].into(),
            college: rec[2].into(),
            branch: rec[3].into(),
            year: rec[4].into(),
        }));
    }
    Ok(CsvRows {
        rows: out.into_iter(),
    })
}
