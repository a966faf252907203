//! The streaming AAF reader on hand-written files: each request kind, values,
//! header, encodings, and every refusal next to its positive control.

#[cfg(test)]
mod cases {
    use sso_directory::encoding::Encoding;
    use sso_directory::parser::{AafReader, Operation, ParseError, Problem, Record};

    const HEADER: &str = concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<!DOCTYPE ficAlimMENESR SYSTEM \"ficAlimMENESR.dtd\">\n",
        "<!-- versionAF : 4.2 -->\n",
        "<!-- versionSDET : 6.6 -->\n",
        "<!-- codeAcademieExport : AC-RENNES -->\n",
        "<!-- degre : 2 -->\n",
    );

    const BODY: &str = concat!(
        "<ficAlimMENESR>\n",
        "  <addRequest>\n",
        "    <operationalAttributes><attr name=\"categoriePersonne\"><value>Eleve</value></attr></operationalAttributes>\n",
        "    <identifier><id>E0000001</id></identifier>\n",
        "    <attributes>\n",
        "      <attr name=\"ENTPersonJointure\"><value>E0000001</value></attr>\n",
        "      <attr name=\"sn\"><value>Le Gall &amp; Fils</value></attr>\n",
        "      <attr name=\"givenName\"><value>Ma&#235;lle</value></attr>\n",
        "      <attr name=\"ENTEleveClasses\"><value>S0359991$6A</value><value>S0359991$6A-LAT</value></attr>\n",
        "      <attr name=\"mail\"><value/></attr>\n",
        "    </attributes>\n",
        "  </addRequest>\n",
        "  <!-- a comment between records -->\n",
        "  <modifyRequest>\n",
        "    <operationalAttributes><attr name=\"categoriePersonne\"><value>Eleve</value></attr></operationalAttributes>\n",
        "    <identifier><id>E0000002</id></identifier>\n",
        "    <modifications>\n",
        "      <modification name=\"sn\" operation=\"replace\"><value>Le Goff</value></modification>\n",
        "    </modifications>\n",
        "  </modifyRequest>\n",
        "  <deleteRequest>\n",
        "    <operationalAttributes><attr name=\"categoriePersonne\"><value>Eleve</value></attr></operationalAttributes>\n",
        "    <identifier><id>E0000003</id></identifier>\n",
        "  </deleteRequest>\n",
        "</ficAlimMENESR>\n",
    );

    fn file() -> String {
        format!("{HEADER}{BODY}")
    }

    fn read(bytes: &[u8]) -> Result<Vec<Record>, ParseError> {
        AafReader::new(bytes)?.collect()
    }

    fn problem(bytes: &[u8]) -> (u64, Problem) {
        let error = read(bytes).unwrap_err();
        (error.line, error.problem)
    }

    #[test]
    fn every_request_kind_is_read_with_its_values_and_lines() {
        let text = file();
        let mut reader = AafReader::new(text.as_bytes()).unwrap();
        assert_eq!(reader.encoding(), Encoding::Utf8);
        let header = reader.header().clone();
        assert_eq!(header.version_af.as_deref(), Some("4.2"));
        assert_eq!(header.version_sdet.as_deref(), Some("6.6"));
        assert_eq!(header.academie.as_deref(), Some("AC-RENNES"));
        assert_eq!(header.degree.as_deref(), Some("2"));
        let records: Vec<Record> = reader.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(reader.lines_read(), text.lines().count() as u64 + 1);
        assert_eq!(records.len(), 3);

        let add = &records[0];
        assert_eq!(add.operation, Operation::Add);
        assert_eq!(add.category, "Eleve");
        assert_eq!(add.id, "E0000001");
        assert_eq!(add.line, 8);
        assert_eq!(add.first("sn"), Some("Le Gall & Fils"));
        assert_eq!(add.first("givenName"), Some("Maëlle"));
        assert_eq!(
            add.values("ENTEleveClasses"),
            ["S0359991$6A", "S0359991$6A-LAT"]
        );
        assert!(add.values("mail").is_empty());
        assert!(add.attributes.iter().any(|a| a.name == "mail"));

        let modify = &records[1];
        assert_eq!(modify.operation, Operation::Modify);
        assert_eq!(modify.id, "E0000002");
        assert_eq!(modify.line, 20);
        assert_eq!(modify.values("sn"), ["Le Goff"]);

        let delete = &records[2];
        assert_eq!(delete.operation, Operation::Delete);
        assert_eq!(delete.id, "E0000003");
        assert!(delete.attributes.is_empty());
    }

    #[test]
    fn iso_8859_15_is_transcoded() {
        let text = file().replace("encoding=\"UTF-8\"", "encoding=\"ISO-8859-15\"");
        let text = text.replace("Le Goff", "C\u{153}ur \u{20ac} \u{e9}t\u{e9}");
        let bytes: Vec<u8> = text
            .chars()
            .map(|c| match c {
                '\u{153}' => 0xBD,
                '\u{20ac}' => 0xA4,
                c => u8::try_from(u32::from(c)).unwrap(),
            })
            .collect();
        assert!(std::str::from_utf8(&bytes).is_err());
        let reader = AafReader::new(&bytes[..]).unwrap();
        assert_eq!(reader.encoding(), Encoding::Latin9);
        let records: Vec<Record> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(records[1].first("sn"), Some("Cœur € été"));

        // The same bytes declared UTF-8: refused, with the line of the bad text.
        let lying = String::from_utf8_lossy(&bytes)
            .replace("encoding=\"ISO-8859-15\"", "encoding=\"UTF-8\"")
            .into_bytes();
        assert!(read(&lying).is_ok(), "lossy conversion made it valid UTF-8");
        let mut declared_utf8 = bytes.clone();
        let at = find(&declared_utf8, b"ISO-8859-15");
        declared_utf8.splice(at..at + 11, b"UTF-8".iter().copied());
        let (line, problem) = problem(&declared_utf8);
        assert_eq!(problem, Problem::InvalidText("UTF-8"));
        assert_eq!(line, 24);
    }

    fn find(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    }

    #[test]
    fn unknown_encoding_is_refused() {
        assert!(read(file().as_bytes()).is_ok());
        let text = file().replace("encoding=\"UTF-8\"", "encoding=\"EBCDIC-FR\"");
        assert_eq!(
            problem(text.as_bytes()),
            (1, Problem::UnsupportedEncoding("EBCDIC-FR".to_owned()))
        );
    }

    #[test]
    fn doctype_with_internal_entity_is_refused() {
        let with_entity = file().replace(
            "<!DOCTYPE ficAlimMENESR SYSTEM \"ficAlimMENESR.dtd\">",
            "<!DOCTYPE ficAlimMENESR [<!ENTITY boom \"boom\">]>",
        );
        assert_ne!(with_entity, file());
        assert_eq!(problem(with_entity.as_bytes()).1, Problem::InternalSubset);
        // Without DOCTYPE at all the file is fine.
        let without = file().replace(
            "<!DOCTYPE ficAlimMENESR SYSTEM \"ficAlimMENESR.dtd\">\n",
            "",
        );
        assert_eq!(read(without.as_bytes()).unwrap().len(), 3);
    }

    #[test]
    fn undeclared_entity_reference_is_refused() {
        let text = file().replace("Le Goff", "Le &boom;");
        assert_eq!(
            problem(text.as_bytes()),
            (24, Problem::Entity("boom".to_owned()))
        );
    }

    #[test]
    fn truncated_file_is_refused() {
        let text = file();
        let cut = &text[..text.find("<deleteRequest>").unwrap() + 20];
        let error = read(cut.as_bytes()).unwrap_err();
        assert!(
            matches!(error.problem, Problem::Truncated | Problem::Malformed(_)),
            "{error}"
        );
        // The records before the cut were read, but the iterator ends with the error.
        let results: Vec<_> = AafReader::new(cut.as_bytes()).unwrap().collect();
        assert_eq!(results.len(), 3);
        assert!(results[2].is_err());
    }

    #[test]
    fn malformed_xml_is_refused_with_its_line() {
        let text = file().replace("</attributes>", "</attribute>");
        let (line, problem) = problem(text.as_bytes());
        assert!(matches!(problem, Problem::Malformed(_)), "{problem}");
        assert_eq!(line, 17);
    }

    #[test]
    fn wrong_root_and_unknown_elements_are_refused() {
        let root = file().replace("ficAlimMENESR>", "annuaire>");
        assert_eq!(
            problem(root.as_bytes()).1,
            Problem::Root("annuaire".to_owned())
        );
        let element = file().replace(
            "<identifier><id>E0000003</id>",
            "<identifier><uid>E0000003</uid>",
        );
        assert_eq!(
            problem(element.as_bytes()).1,
            Problem::UnexpectedElement {
                element: "uid".to_owned(),
                parent: "identifier".to_owned()
            }
        );
        let request = file().replace("deleteRequest>", "purgeRequest>");
        assert!(matches!(
            problem(request.as_bytes()).1,
            Problem::UnexpectedElement { .. }
        ));
    }

    #[test]
    fn modifications_other_than_replace_are_refused() {
        let text = file().replace("operation=\"replace\"", "operation=\"add\"");
        assert_eq!(
            problem(text.as_bytes()).1,
            Problem::Modification("add".to_owned())
        );
        let text = file().replace(" operation=\"replace\"", "");
        assert_eq!(
            problem(text.as_bytes()).1,
            Problem::MissingAttribute {
                element: "modification",
                attribute: "operation"
            }
        );
    }

    #[test]
    fn stray_text_and_processing_instructions_are_refused() {
        let text = file().replace("<deleteRequest>", "stray<deleteRequest>");
        assert!(matches!(
            problem(text.as_bytes()).1,
            Problem::UnexpectedText(_)
        ));
        let text = file().replace("<deleteRequest>", "<?php echo 1 ?><deleteRequest>");
        assert_eq!(problem(text.as_bytes()).1, Problem::ProcessingInstruction);
    }

    #[test]
    fn oversized_values_are_refused() {
        let long = "x".repeat(sso_directory::parser::MAX_VALUE_LEN + 1);
        let text = file().replace("Le Goff", &long);
        assert_eq!(problem(text.as_bytes()).1, Problem::ValueTooLong);
        let fits = file().replace("Le Goff", &long[1..]);
        assert!(read(fits.as_bytes()).is_ok());
    }

    #[test]
    fn a_large_file_streams_record_by_record() {
        // 100,000 records read through an iterator that never holds more than one.
        struct Generated {
            next: u32,
            total: u32,
            pending: Vec<u8>,
            pos: usize,
        }
        impl std::io::Read for Generated {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                if self.pos == self.pending.len() {
                    self.pending.clear();
                    self.pos = 0;
                    if self.next == 0 {
                        self.pending.extend_from_slice(b"<ficAlimMENESR>\n");
                    }
                    if self.next < self.total {
                        self.pending.extend_from_slice(
                        format!(
                            "<addRequest><operationalAttributes><attr name=\"categoriePersonne\"><value>Eleve</value></attr></operationalAttributes><identifier><id>E{:07}</id></identifier><attributes><attr name=\"sn\"><value>Nom</value></attr></attributes></addRequest>\n",
                            self.next
                        )
                        .as_bytes(),
                    );
                    } else if self.next == self.total {
                        self.pending.extend_from_slice(b"</ficAlimMENESR>\n");
                    } else {
                        return Ok(0);
                    }
                    self.next += 1;
                }
                let n = out.len().min(self.pending.len() - self.pos);
                out[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
                self.pos += n;
                Ok(n)
            }
        }
        let source = std::io::BufReader::new(Generated {
            next: 0,
            total: 100_000,
            pending: Vec::new(),
            pos: 0,
        });
        let mut count = 0u32;
        for record in AafReader::new(source).unwrap() {
            let record = record.unwrap();
            assert_eq!(record.id, format!("E{count:07}"));
            count += 1;
        }
        assert_eq!(count, 100_000);
    }
}
