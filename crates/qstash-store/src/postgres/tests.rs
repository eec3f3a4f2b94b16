//! Unit tests of the backend's private parts: error kinds from SQLSTATE codes, schema names,
//! encodings.

use super::*;

#[test]
fn error_kinds_come_from_sqlstate_codes() {
    let cases = [
        (SqlState::T_R_DEADLOCK_DETECTED, StoreErrorKind::Busy),
        (SqlState::T_R_SERIALIZATION_FAILURE, StoreErrorKind::Busy),
        (SqlState::DISK_FULL, StoreErrorKind::Full),
        (SqlState::DATA_CORRUPTED, StoreErrorKind::Corrupt),
        (SqlState::INDEX_CORRUPTED, StoreErrorKind::Corrupt),
        (SqlState::UNIQUE_VIOLATION, StoreErrorKind::Invalid),
        (SqlState::DIVISION_BY_ZERO, StoreErrorKind::Invalid),
        (SqlState::ADMIN_SHUTDOWN, StoreErrorKind::Unavailable),
        (SqlState::UNDEFINED_TABLE, StoreErrorKind::Unavailable),
    ];
    for (code, kind) in cases {
        assert_eq!(sqlstate_kind(&code), kind, "{}", code.code());
    }
    let busy = StoreError::Backend {
        kind: StoreErrorKind::Busy,
        message: "a deadlock".to_string(),
        source: Arc::new(std::io::Error::other("x")),
    };
    assert!(is_transient(&busy));
    // A message that merely looks like a deadlock's is not one.
    assert!(!is_transient(&StoreError::Unavailable(
        "deadlock detected (40P01)".to_string()
    )));
}

#[test]
fn schema_names() {
    assert!(check_schema_name("qstash_test_1").is_ok());
    assert!(check_schema_name("").is_err());
    assert!(check_schema_name("1abc").is_err());
    assert!(check_schema_name("a\"b").is_err());
    assert!(check_schema_name("a b").is_err());
    assert!(check_schema_name("Upper").is_err());
    assert!(check_schema_name(&"a".repeat(51)).is_err());
}

#[test]
fn headers_and_labels_round_trip() {
    let headers = vec![
        ("A".to_string(), "1".to_string()),
        ("Empty".to_string(), String::new()),
        ("Long".to_string(), "x".repeat(300)),
    ];
    assert_eq!(decode_headers(&encode_headers(&headers)).unwrap(), headers);
    assert!(decode_headers(&[0xff; 12]).is_err());
    let labels = vec!["a%b".to_string(), "_".to_string(), String::new()];
    assert_eq!(
        decode_labels(&encode_labels(&labels).unwrap()).unwrap(),
        labels
    );
}
