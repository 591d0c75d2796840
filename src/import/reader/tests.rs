//! The reader against the files spreadsheets export, and the ways they go wrong.

use std::io::Write;

use proptest::prelude::*;

use super::*;

const HEADER: &str = "email,name,college,branch,year\n";

/// A file holding `bytes`, left positioned at its end, as after an upload.
fn file_with(bytes: &[u8]) -> File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

fn rows(bytes: &[u8]) -> Vec<Result<NewInvitee, RowError>> {
    read_csv(file_with(bytes)).unwrap().collect()
}

fn candidates(bytes: &[u8]) -> Vec<NewInvitee> {
    rows(bytes).into_iter().map(|row| row.unwrap()).collect()
}

fn error(bytes: &[u8]) -> CsvError {
    read_csv(file_with(bytes))
        .err()
        .expect("the file should be rejected")
}

fn candidate(email: &str, name: &str, college: &str, branch: &str, year: &str) -> NewInvitee {
    NewInvitee {
        email: Email::parse(email).unwrap(),
        name: name.into(),
        college: college.into(),
        branch: branch.into(),
        year: year.into(),
    }
}

fn ana() -> NewInvitee {
    candidate("ana@x.org", "Ana", "MIT", "CS", "2")
}

fn row_error(line: u64, email: Option<&str>, message: &str) -> Result<NewInvitee, RowError> {
    Err(RowError {
        line,
        email: email.map(Into::into),
        message: message.into(),
    })
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let units = std::iter::once(0xFEFF).chain(text.encode_utf16());
    if big_endian {
        units.flat_map(u16::to_be_bytes).collect()
    } else {
        units.flat_map(u16::to_le_bytes).collect()
    }
}

#[test]
fn plain_utf8_rows_are_read_with_fields_trimmed() {
    let text =
        format!("{HEADER} Ana@X.org , Ana ,MIT, CS ,2\nbo@y.org,Bó Ñandú,Universität,EE,2025\n");
    assert_eq!(
        candidates(text.as_bytes()),
        [
            ana(),
            candidate("bo@y.org", "Bó Ñandú", "Universität", "EE", "2025")
        ]
    );
}

#[test]
fn a_utf8_bom_does_not_break_the_first_header_name() {
    let text = format!("\u{FEFF}{HEADER}ana@x.org,Ana,MIT,CS,2\n");
    assert_eq!(candidates(text.as_bytes()), [ana()]);
}

#[test]
fn utf16_little_endian_with_a_bom_is_decoded() {
    let text = format!("{HEADER}ana@x.org,Ana,MIT,CS,2\r\nzoe@x.org,Zoë 😀,MIT,CS,2\r\n");
    let rows = candidates(&utf16(&text, false));
    assert_eq!(
        rows,
        [ana(), candidate("zoe@x.org", "Zoë 😀", "MIT", "CS", "2")]
    );
}

#[test]
fn utf16_big_endian_with_a_bom_is_decoded() {
    let text = format!("{HEADER}ana@x.org,Ana,MIT,CS,2\nzoe@x.org,Zoë,MIT,CS,2\n");
    let rows = candidates(&utf16(&text, true));
    assert_eq!(
        rows,
        [ana(), candidate("zoe@x.org", "Zoë", "MIT", "CS", "2")]
    );
}

#[test]
fn bytes_that_are_not_utf8_are_decoded_as_windows_1252() {
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(b"jose@x.org,Jos\xe9 \x93Pep\xe9\x94,MIT,CS,2\n");
    assert_eq!(
        candidates(&bytes),
        [candidate("jose@x.org", "José “Pepé”", "MIT", "CS", "2")]
    );
}

#[test]
fn windows_1252_is_detected_even_when_its_first_non_ascii_byte_is_past_the_first_chunk() {
    let mut bytes = HEADER.as_bytes().to_vec();
    while bytes.len() < scan::CHUNK_SIZE + 10 {
        bytes.extend_from_slice(b"ana@x.org,Ana,MIT,CS,2\n");
    }
    bytes.extend_from_slice(b"jose@x.org,Jos\xe9,MIT,CS,2\n");
    let rows = candidates(&bytes);
    assert_eq!(rows.last().unwrap().name, "José");
}

#[test]
fn a_utf8_character_split_between_scan_chunks_keeps_the_file_utf8() {
    let mut text = String::from(HEADER);
    let row = "ana@x.org,Ana,MIT,CS,2\n";
    while text.len() + row.len() < scan::CHUNK_SIZE - 20 {
        text.push_str(row);
    }
    // Pad the name so that the 3-byte '€' starts one byte before the chunk boundary.
    let prefix = "eu@x.org,";
    let padding = scan::CHUNK_SIZE - 1 - text.len() - prefix.len();
    text.push_str(&format!("{prefix}{}€,MIT,CS,2\n", "x".repeat(padding)));
    assert_eq!(text.find('€'), Some(scan::CHUNK_SIZE - 1));
    text.push_str("zoe@x.org,Zoë,MIT,CS,2\n");
    let rows = candidates(text.as_bytes());
    assert!(rows[rows.len() - 2].name.ends_with("x€"));
    assert_eq!(rows.last().unwrap().name, "Zoë");
}

#[test]
fn crlf_line_endings_are_read_with_the_right_line_numbers() {
    let text = "email,name,college,branch,year\r\nana@x.org,Ana,MIT,CS,2\r\nbad,Bo,MIT,CS,2\r\n";
    let rows = rows(text.as_bytes());
    assert_eq!(
        rows,
        [
            Ok(ana()),
            row_error(3, Some("bad"), "'bad' is not a valid email address")
        ]
    );
}

#[test]
fn lines_ending_in_carriage_returns_only_are_read_with_the_right_line_numbers() {
    let text = "email,name,college,branch,year\rana@x.org,Ana,MIT,CS,2\r\rbad,Bo,MIT,CS,2";
    let rows = rows(text.as_bytes());
    assert_eq!(
        rows,
        [
            Ok(ana()),
            row_error(4, Some("bad"), "'bad' is not a valid email address")
        ]
    );
}

#[test]
fn quoted_fields_may_hold_commas_quotes_and_newlines() {
    let text = format!(
        "{HEADER}ana@x.org,\"Lima, Ana \"\"Nana\"\"\",\"MIT\r\nBoston\",CS,2\r\n\
             bo@x.org,\"Bo\nBo\",MIT,CS,\"\"\nbad,Cy,MIT,CS,2\n"
    );
    let rows = rows(text.as_bytes());
    assert_eq!(
        rows,
        [
            Ok(candidate(
                "ana@x.org",
                "Lima, Ana \"Nana\"",
                "MIT\r\nBoston",
                "CS",
                "2"
            )),
            row_error(4, Some("bo@x.org"), "year is empty"),
            row_error(6, Some("bad"), "'bad' is not a valid email address"),
        ]
    );
}

#[test]
fn a_semicolon_separated_file_is_recognised() {
    let text = "\"email\";name;college;branch;year\nana@x.org;Ana;MIT;CS;2\nbo@x.org;\"Bo; Jr, Sr\";MIT;CS;2,5\n";
    assert_eq!(
        candidates(text.as_bytes()),
        [
            ana(),
            candidate("bo@x.org", "Bo; Jr, Sr", "MIT", "CS", "2,5")
        ]
    );
}

#[test]
fn commas_inside_a_quoted_header_name_do_not_make_a_file_comma_separated() {
    let text = "email;name;college;branch;year;\"notes, misc, other\"\nana@x.org;Ana;MIT;CS;2;x\n";
    assert_eq!(candidates(text.as_bytes()), [ana()]);
}

#[test]
fn columns_match_in_any_order_and_case_with_spaces_and_extra_columns() {
    let text = "Year , ID,COLLEGE, Email ,Branch,name ,Notes\n2,17,MIT,ana@x.org,CS,Ana,hi\n";
    assert_eq!(candidates(text.as_bytes()), [ana()]);
}

#[test]
fn missing_columns_are_listed_in_the_required_order() {
    let err = error(b"Year,e-mail,Name\nx,y,z\n");
    assert!(
        matches!(&err, CsvError::MissingColumns(missing) if missing == &["email", "college", "branch"])
    );
    assert_eq!(
        err.to_string(),
        "missing required column(s): email, college, branch"
    );
}

#[test]
fn a_file_with_nothing_but_blanks_or_a_bom_is_empty() {
    for bytes in [
        &b""[..],
        b"\xEF\xBB\xBF",
        b"\xFF\xFE",
        b"\xFE\xFF",
        b" \r\n\t\n\n",
        b"\xEF\xBB\xBF\r\n",
    ] {
        assert!(
            matches!(error(bytes), CsvError::Empty),
            "{bytes:?} should be empty"
        );
    }
    assert!(matches!(error(&utf16(" \r\n", false)), CsvError::Empty));
}

#[test]
fn a_header_without_rows_gives_no_rows() {
    assert_eq!(rows(HEADER.as_bytes()), []);
    assert_eq!(rows(b"email,name,college,branch,year"), []);
}

#[test]
fn a_file_with_nul_bytes_is_not_text() {
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(b"ana@x.org,A\0na,MIT,CS,2\n");
    let err = error(&bytes);
    assert!(matches!(&err, CsvError::NotText(why) if why == "contains binary data"));
    assert_eq!(
        err.to_string(),
        "the file is not a CSV text file (contains binary data)"
    );
}

#[test]
fn a_file_full_of_control_characters_is_not_text() {
    let bytes: Vec<u8> = (0..2000u32)
        .map(|i| [b'a', b',', 0x01, 0x1B, b'\n'][i as usize % 5])
        .collect();
    assert!(matches!(error(&bytes), CsvError::NotText(_)));
}

#[test]
fn an_xlsx_file_is_not_text_and_the_error_says_to_export_it_as_csv() {
    let mut bytes = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00".to_vec();
    bytes.extend_from_slice(b"[Content_Types].xml");
    let err = error(&bytes);
    assert!(
        err.to_string()
            .contains("looks like a spreadsheet (.xlsx); export it as CSV"),
        "{err}"
    );
}

#[test]
fn a_png_image_is_not_text() {
    let bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
    assert!(matches!(error(bytes), CsvError::NotText(_)));
}

#[test]
fn bad_rows_are_reported_with_their_line_while_good_rows_come_through() {
    let text = format!(
        "{HEADER}ana@x.org,Ana,MIT,CS,2\n\
             foo,Bo,MIT,CS,2\n\
             cy@x.org,   ,MIT,CS,2\n\
             ,Di,MIT,CS,2\n\
             ed@x.org,Ed,MIT\n\
             ana@x.org,Ana,MIT,CS,2,extra,fields\n"
    );
    assert_eq!(
        rows(text.as_bytes()),
        [
            Ok(ana()),
            row_error(3, Some("foo"), "'foo' is not a valid email address"),
            row_error(4, Some("cy@x.org"), "name is empty"),
            row_error(5, None, "email is empty"),
            row_error(6, Some("ed@x.org"), "branch is empty"),
            Ok(ana()),
        ]
    );
}

#[test]
fn blank_lines_and_rows_of_empty_fields_are_skipped_without_losing_count_of_lines() {
    let text =
        format!("\n\r\n{HEADER}\nana@x.org,Ana,MIT,CS,2\n , ,,,\n\r\n,,\n\n\nfoo,Bo,MIT,CS,2\n\n");
    assert_eq!(
        rows(text.as_bytes()),
        [
            Ok(ana()),
            row_error(11, Some("foo"), "'foo' is not a valid email address")
        ]
    );
}

#[test]
fn an_unclosed_quote_ends_the_rows_with_an_error_at_its_line() {
    let text =
        format!("{HEADER}ana@x.org,Ana,MIT,CS,2\nbo@x.org,\"Bo,MIT,CS,2\nana@x.org,Ana,MIT,CS,2\n");
    let file_len = text.len() as u64;
    let mut rows = read_csv(file_with(text.as_bytes())).unwrap();
    assert_eq!(rows.next(), Some(Ok(ana())));
    let error = rows.next().unwrap().unwrap_err();
    assert_eq!((error.line, error.email), (3, None));
    assert!(error.message.contains("never closed"), "{}", error.message);
    assert_eq!(rows.next(), None);
    assert_eq!(rows.bytes_read(), file_len);
}

#[test]
fn an_unclosed_quote_in_the_header_keeps_the_columns_before_it() {
    let err = error(b"email,name,\"college,branch,year\nana@x.org,Ana,MIT,CS,2\n");
    assert!(
        matches!(err, CsvError::MissingColumns(missing) if missing == ["college", "branch", "year"])
    );

    let rows = rows(b"email,name,college,branch,year,\"notes\nana@x.org,Ana,MIT,CS,2\n");
    assert!(
        matches!(&rows[..], [Err(RowError { line: 1, .. })]),
        "{rows:?}"
    );
}

#[test]
fn bytes_read_grows_to_the_file_length() {
    let mut text = String::from(HEADER);
    (0..5000).for_each(|i| text.push_str(&format!("user{i}@x.org,User {i},MIT,CS,2\n")));
    let mut rows = read_csv(file_with(text.as_bytes())).unwrap();
    let mut last = rows.bytes_read();
    let mut count = 0;
    while let Some(row) = rows.next() {
        row.unwrap();
        count += 1;
        assert!(rows.bytes_read() >= last && rows.bytes_read() <= text.len() as u64);
        last = rows.bytes_read();
    }
    assert_eq!(count, 5000);
    assert_eq!(rows.bytes_read(), text.len() as u64);
}

#[test]
fn a_field_over_the_limit_is_a_row_error_and_the_rows_around_it_are_read() {
    let long = "x".repeat(MAX_FIELD_BYTES + 1);
    let just_fits = "y".repeat(MAX_FIELD_BYTES);
    let text = format!(
        "email,name,college,branch,year,notes\n\
             bo@x.org,\"{long}\",MIT,CS,2,\n\
             cy@x.org,Cy,MIT,CS,2,{long}\n\
             ana@x.org,Ana,MIT,CS,2,{just_fits}\n"
    );
    assert_eq!(
        rows(text.as_bytes()),
        [
            row_error(2, Some("bo@x.org"), "name is longer than 64 KiB"),
            row_error(3, Some("cy@x.org"), "column 6 is longer than 64 KiB"),
            Ok(ana()),
        ]
    );
}

#[test]
fn rows_can_be_read_on_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<CsvRows>();
}

/// Any printable text, with the characters CSV must quote and some beyond ASCII.
fn field() -> impl Strategy<Value = String> {
    "[ a-zA-Z0-9,;\"'\n\r\téüñ€“”😀-]{1,12}"
        .prop_filter("must not be blank", |s| !s.trim().is_empty())
}

fn person() -> impl Strategy<Value = [String; 5]> {
    (
        "[a-z]{1,10}@[a-z]{1,10}\\.org",
        field(),
        field(),
        field(),
        field(),
    )
        .prop_map(|(email, name, college, branch, year)| [email, name, college, branch, year])
}

fn write_csv(people: &[[String; 5]], delimiter: u8) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(Vec::new());
    writer.write_record(REQUIRED_COLUMNS).unwrap();
    people
        .iter()
        .for_each(|person| writer.write_record(person).unwrap());
    writer.into_inner().unwrap()
}

proptest! {
    #[test]
    fn fields_written_by_the_csv_crate_are_read_back_trimmed(
        people in prop::collection::vec(person(), 1..8),
        semicolon in any::<bool>(),
    ) {
        let bytes = write_csv(&people, if semicolon { b';' } else { b',' });
        let read = candidates(&bytes);
        let expected: Vec<NewInvitee> = people
            .iter()
            .map(|[email, name, college, branch, year]| {
                candidate(email, name.trim(), college.trim(), branch.trim(), year.trim())
            })
            .collect();
        prop_assert_eq!(read, expected);
    }
}
