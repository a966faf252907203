//! ISO-8859-15 and UTF-8 files: bytes and declaration agree.

use sso_testbed::aaf::{self, Encoding, write_complete};
use sso_testbed::people::Degree;

use crate::common::{decode_iso_8859_15, parse, spec};

#[test]
fn iso_8859_15_files_hold_latin9_bytes_and_utf8_files_hold_utf8() {
    let mut latin9 = spec(Degree::Second);
    latin9.encoding = Encoding::Iso8859_15;
    let utf8 = spec(Degree::Second);

    // A pupil whose surname needs ISO-8859-15 (œ is 0xBD there, ½ in ISO-8859-1).
    let with_oe = (0..latin9.schools)
        .flat_map(|s| (0..latin9.pupils_per_school).map(move |i| (s, i)))
        .filter_map(|(s, i)| aaf::pupil(&latin9, s, i))
        .find(|p| p.surname.contains('œ') || p.surname.contains('Œ'))
        .expect("no pupil with œ in a moderate export");

    let dir_latin9 = tempfile::tempdir().unwrap();
    let dir_utf8 = tempfile::tempdir().unwrap();
    let set_latin9 = write_complete(&latin9, dir_latin9.path()).unwrap();
    let set_utf8 = write_complete(&utf8, dir_utf8.path()).unwrap();
    let name = "ENT2D_Complet_20260901_Eleve_0000.xml";
    let bytes = std::fs::read(set_latin9.path(name)).unwrap();
    let utf8_bytes = std::fs::read(set_utf8.path(name)).unwrap();

    assert!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?>\n"));
    assert!(bytes.contains(&0xBD) || bytes.contains(&0xBC));
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the ISO-8859-15 file is valid UTF-8"
    );
    assert!(utf8_bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    let utf8_text = String::from_utf8(utf8_bytes).unwrap();
    assert!(utf8_text.contains('œ') || utf8_text.contains('Œ'));

    // The surname, encoded by hand, is in the ISO file.
    let encoded: Vec<u8> = with_oe
        .surname
        .chars()
        .map(|c| match c {
            'œ' => 0xBD,
            'Œ' => 0xBC,
            c => u8::try_from(u32::from(c)).unwrap(),
        })
        .collect();
    assert!(
        bytes
            .windows(encoded.len())
            .any(|w| w == encoded.as_slice())
    );

    // Decoded, the ISO file says exactly what the UTF-8 one says.
    let decoded = decode_iso_8859_15(&bytes);
    assert_eq!(
        decoded.replacen("ISO-8859-15", "UTF-8", 1),
        utf8_text,
        "the two encodings carry different text"
    );
    let record = parse(&decoded)
        .into_iter()
        .find(|r| r.id == with_oe.id)
        .unwrap();
    assert_eq!(record.first("sn"), Some(with_oe.surname.clone()));

    // Every file of the set declares its encoding; line counts agree.
    for file in &set_latin9.files {
        let bytes = std::fs::read(set_latin9.path(&file.name)).unwrap();
        assert!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?>"));
        let utf8 = std::fs::read(set_utf8.path(&file.name)).unwrap();
        assert_eq!(
            bytes.iter().filter(|b| **b == b'\n').count(),
            utf8.iter().filter(|b| **b == b'\n').count()
        );
    }
    assert_eq!(
        set_latin9.files.iter().map(|f| f.lines).collect::<Vec<_>>(),
        set_utf8.files.iter().map(|f| f.lines).collect::<Vec<_>>()
    );
}
