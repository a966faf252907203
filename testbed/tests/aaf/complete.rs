//! Complete exports: determinism, file names and splitting, bordereau,
//! identifiers, families, staff, 1st degree, refused specs, tar.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use sso_core::Uai;
use sso_testbed::aaf::{self, Category, GenError, PersonDetails, write_category, write_complete};
use sso_testbed::people::Degree;

use crate::common::{Rec, parse, read_text, records, spec};

#[test]
fn the_same_spec_gives_the_same_bytes_and_another_seed_other_bytes() {
    let spec = spec(Degree::Second);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let set_a = write_complete(&spec, a.path()).unwrap();
    let set_b = write_complete(&spec, b.path()).unwrap();
    assert_eq!(set_a.files, set_b.files);
    for name in set_a
        .files
        .iter()
        .map(|f| &f.name)
        .chain([&set_a.bordereau])
    {
        let bytes_a = std::fs::read(set_a.path(name)).unwrap();
        let bytes_b = std::fs::read(set_b.path(name)).unwrap();
        assert!(bytes_a == bytes_b, "{name} differs between two runs");
    }
    let mut other = spec.clone();
    other.seed += 1;
    let c = tempfile::tempdir().unwrap();
    let set_c = write_complete(&other, c.path()).unwrap();
    let eleve = "ENT2D_Complet_20260901_Eleve_0000.xml";
    assert_ne!(
        std::fs::read(set_a.path(eleve)).unwrap(),
        std::fs::read(set_c.path(eleve)).unwrap()
    );
}

#[test]
fn files_are_named_split_and_counted_in_the_bordereau() {
    let mut spec = spec(Degree::Second);
    spec.max_records_per_file = 500;
    let dir = tempfile::tempdir().unwrap();
    let set = write_complete(&spec, dir.path()).unwrap();
    assert_eq!(set.bordereau, "ENT2D_Complet_20260901_Bordereau.txt");
    let eleve: Vec<_> = set.files_of(Category::Eleve).collect();
    let names: Vec<&str> = eleve.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ENT2D_Complet_20260901_Eleve_0000.xml",
            "ENT2D_Complet_20260901_Eleve_0001.xml",
            "ENT2D_Complet_20260901_Eleve_0002.xml",
        ]
    );
    let counts: Vec<u64> = eleve.iter().map(|f| f.records).collect();
    assert_eq!(counts, [500, 500, 200]);
    for category in Category::ALL
        .into_iter()
        .filter(|c| *c != Category::InfosEducNat)
    {
        assert!(
            set.files_of(category).next().is_some(),
            "no {category} file in a 2nd-degree export"
        );
    }
    // Matières and MEFs are small: one file each.
    assert_eq!(set.files_of(Category::MatiereEducNat).count(), 1);

    let bordereau = std::fs::read_to_string(set.path(&set.bordereau)).unwrap();
    let lines: Vec<&str> = bordereau.lines().collect();
    assert_eq!(lines.len(), set.files.len());
    let mut listed = HashSet::new();
    for line in lines {
        let (name, count) = line.split_once(';').unwrap();
        let bytes = std::fs::read(set.path(name)).unwrap();
        let newlines = bytes.iter().filter(|b| **b == b'\n').count();
        assert_eq!(count.parse::<usize>().unwrap(), newlines, "{name}");
        assert!(listed.insert(name.to_owned()));
        // Every listed file parses and holds the records the set says.
        let file = set.files.iter().find(|f| f.name == name).unwrap();
        let recs = parse(&read_text(&set.path(name)));
        assert_eq!(recs.len() as u64, file.records, "{name}");
    }
    let on_disk: HashSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    assert_eq!(on_disk, listed);

    // The ids of the split files are those of one unsplit document.
    let mut whole = Vec::new();
    write_category(&spec, Category::Eleve, &mut whole).unwrap();
    let whole_ids: Vec<String> = parse(std::str::from_utf8(&whole).unwrap())
        .into_iter()
        .map(|r| r.id)
        .collect();
    let split_ids: Vec<String> = records(&set, Category::Eleve)
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(whole_ids, split_ids);
    assert_eq!(whole_ids.len(), 1200);
}

#[test]
fn the_header_says_what_the_brief_says() {
    let spec = spec(Degree::Second);
    let mut out = Vec::new();
    write_category(&spec, Category::MefEducNat, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let head: Vec<&str> = text.lines().take(7).collect();
    assert_eq!(
        head,
        [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<!DOCTYPE ficAlimMENESR SYSTEM \"ficAlimMENESR.dtd\">",
            "<!-- versionAF : 4.2 -->",
            "<!-- versionSDET : 6.6 -->",
            "<!-- codeAcademieExport : AC-RENNES -->",
            "<!-- degre : 2 -->",
            "<ficAlimMENESR>",
        ]
    );
    assert!(text.ends_with("</ficAlimMENESR>\n"));
    let mefs = parse(&text);
    assert_eq!(mefs.len(), 7);
    for m in &mefs {
        assert_eq!(
            m.operational,
            ("categorieMef".to_owned(), "MefEducNat".to_owned())
        );
        let code = m.id.strip_prefix('F').unwrap();
        assert_eq!(code.len(), 11);
        assert_eq!(m.first("ENTMefJointure").as_deref(), Some(m.id.as_str()));
        assert_eq!(m.first("ENTMEFSTAT4").unwrap().len(), 4);
    }
}

#[test]
fn every_uai_carries_a_valid_check_letter() {
    let spec = spec(Degree::Second);
    let dir = tempfile::tempdir().unwrap();
    let set = write_complete(&spec, dir.path()).unwrap();
    let schools = records(&set, Category::EtabEducNat);
    assert_eq!(schools.len(), 6);
    let mut uais = HashSet::new();
    for s in &schools {
        assert_eq!(
            s.operational,
            ("categorieStructure".to_owned(), "EtabEducNat".to_owned())
        );
        let uai = s.first("ENTStructureUAI").unwrap();
        assert!(Uai::parse(&uai).is_ok(), "{uai}");
        // Negative control: the same digits with another letter are refused.
        let wrong = if uai.ends_with('A') { 'B' } else { 'A' };
        assert!(Uai::parse(&format!("{}{wrong}", &uai[..7])).is_err());
        assert_eq!(s.id, format!("S{}", &uai[..7]));
        let dept = s.first("ENTStructureDepartement").unwrap();
        assert!(["035", "029", "022", "056"].contains(&dept.as_str()));
        assert!(uai.starts_with(&dept));
        assert_eq!(&s.first("postalCode").unwrap()[..2], &dept[1..]);
        assert_eq!(s.first("ENTServAcAcademie").as_deref(), Some("AC-RENNES"));
        assert!(["PU", "PR"].contains(&s.first("ENTEtablissementContrat").unwrap().as_str()));
        assert!(
            ["COLLEGE", "LYCEE"].contains(&s.first("ENTStructureTypeStruct").unwrap().as_str())
        );
        assert!(uais.insert(uai));
    }
    for index in 0..6 {
        let school = aaf::school(&spec, index).unwrap();
        assert!(uais.contains(&school.uai));
    }
    assert!(aaf::school(&spec, 6).is_none());
}

fn by_id(recs: &[Rec]) -> HashMap<String, Rec> {
    let map: HashMap<String, Rec> = recs.iter().map(|r| (r.id.clone(), r.clone())).collect();
    assert_eq!(map.len(), recs.len(), "duplicate ids");
    map
}

#[test]
fn every_guardian_a_pupil_names_exists_and_siblings_share_them() {
    let spec = spec(Degree::Second);
    let dir = tempfile::tempdir().unwrap();
    let set = write_complete(&spec, dir.path()).unwrap();
    let pupils = records(&set, Category::Eleve);
    let guardians = by_id(&records(&set, Category::PersRelEleve));
    let mut children: HashMap<String, Vec<String>> = HashMap::new();
    for p in &pupils {
        assert!(p.id.starts_with('E') && p.id.len() == 8, "{}", p.id);
        let links = p.values("ENTElevePersRelEleve");
        assert!(!links.is_empty(), "{} has no guardian", p.id);
        for link in links {
            let fields: Vec<&str> = link.split('$').collect();
            assert_eq!(fields.len(), 6, "{link}");
            assert!(
                guardians.contains_key(fields[0]),
                "{} names missing {}",
                p.id,
                fields[0]
            );
            assert!(["0", "1"].contains(&fields[3]));
            children
                .entry(fields[0].to_owned())
                .or_default()
                .push(p.id.clone());
        }
    }
    // No orphan guardian either.
    assert_eq!(children.len(), guardians.len());
    let ratio = guardians.len() as f64 / pupils.len() as f64;
    assert!((1.3..=1.7).contains(&ratio), "{ratio} guardians per pupil");

    // About 15 % of pupils share a guardian with another pupil.
    let with_sibling: HashSet<&String> = children
        .values()
        .filter(|c| c.len() > 1)
        .flatten()
        .collect();
    let share = with_sibling.len() as f64 / pupils.len() as f64;
    assert!(
        (0.10..=0.20).contains(&share),
        "{share} of pupils have a sibling"
    );

    // The accessors say the same: pupils 0 and 1 of a school are siblings.
    let a = aaf::pupil(&spec, 2, 0).unwrap();
    let b = aaf::pupil(&spec, 2, 1).unwrap();
    let (PersonDetails::Pupil(pa), PersonDetails::Pupil(pb)) = (&a.details, &b.details) else {
        panic!("not pupils");
    };
    assert_eq!(pa.guardians, pb.guardians);
    assert_eq!(a.surname, b.surname);
    let family = aaf::guardians(&spec, 2, 1);
    assert_eq!(
        family.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
        pa.guardians
            .iter()
            .map(|g| g.id.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(children[&family[0].id], vec![a.id.clone(), b.id.clone()]);
    // Pupil 6 of a block is alone.
    let c = aaf::pupil(&spec, 2, 6).unwrap();
    let PersonDetails::Pupil(pc) = &c.details else {
        panic!()
    };
    assert!(pc.guardians.iter().all(|g| !pa.guardians.contains(g)));
}

#[test]
fn legal_persons_and_guardians_without_legal_responsibility_exist() {
    let spec = spec(Degree::Second);
    let dir = tempfile::tempdir().unwrap();
    let set = write_complete(&spec, dir.path()).unwrap();
    let guardians = records(&set, Category::PersRelEleve);
    let organismes: Vec<&Rec> = guardians
        .iter()
        .filter(|g| g.first("ENTPersRelEleveOrganisme").as_deref() == Some("1"))
        .collect();
    assert!(
        !organismes.is_empty(),
        "no legal person among {} guardians",
        guardians.len()
    );
    for o in &organismes {
        assert!(!o.has("givenName"), "{} has a given name", o.id);
        let name = o.first("sn").unwrap();
        assert!(
            name.starts_with("Aide sociale à l'enfance ")
                || name.starts_with("Œuvre Enfance & Familles "),
            "{name}"
        );
    }
    // Natural persons carry no organisme flag.
    assert!(
        guardians
            .iter()
            .filter(|g| g.has("givenName"))
            .all(|g| !g.has("ENTPersRelEleveOrganisme"))
    );
    let pupils = records(&set, Category::Eleve);
    let links: Vec<Vec<String>> = pupils
        .iter()
        .flat_map(|p| p.values("ENTElevePersRelEleve"))
        .map(|l| l.split('$').map(str::to_owned).collect())
        .collect();
    for o in &organismes {
        assert!(
            links.iter().any(|l| l[0] == o.id && l[3] == "1"),
            "{}",
            o.id
        );
    }
    assert!(
        links.iter().any(|l| l[3] == "0"),
        "every guardian is a legal guardian"
    );
    assert!(links.iter().filter(|l| l[3] == "1").count() > links.len() / 2);
}

#[test]
fn staff_have_functions_one_director_per_school_and_some_teach_in_two_schools() {
    let spec = spec(Degree::Second);
    let dir = tempfile::tempdir().unwrap();
    let set = write_complete(&spec, dir.path()).unwrap();
    let staff = records(&set, Category::PersEducNat);
    assert_eq!(staff.len(), 180);
    let schools = by_id(&records(&set, Category::EtabEducNat));
    let matieres: HashSet<String> = records(&set, Category::MatiereEducNat)
        .into_iter()
        .map(|m| m.id)
        .collect();
    let mut directors: HashMap<String, usize> = HashMap::new();
    let mut codes = HashSet::new();
    let mut teachers = 0;
    let mut two_schools = 0;
    let mut mails = HashSet::new();
    for p in &staff {
        assert!(p.id.starts_with('P'));
        assert!(!p.has("categorie"));
        let mail = p.first("mail").unwrap();
        assert!(mail.ends_with("@ac-rennes.example"), "{mail}");
        assert!(mails.insert(mail), "two agents share an e-mail address");
        let functions = p.values("ENTPersonFonctions");
        let mut structures = HashSet::new();
        for f in &functions {
            let fields: Vec<&str> = f.split('$').collect();
            assert_eq!(fields.len(), 5, "{f}");
            assert!(schools.contains_key(fields[0]), "{f}");
            structures.insert(fields[0].to_owned());
            codes.insert(fields[1].to_owned());
            if fields[1] == "DIR" {
                *directors.entry(fields[0].to_owned()).or_default() += 1;
                assert_eq!(&fields[2..], ["DIRECTION", "-", "-"]);
            }
        }
        assert!(structures.contains(&p.first("ENTPersonStructRattach").unwrap()));
        if functions[0].contains("$ENS$") {
            teachers += 1;
            if structures.len() == 2 {
                two_schools += 1;
            }
            let discipline = functions[0].split('$').nth(3).unwrap();
            assert!(matieres.contains(&format!("M{discipline}")), "{discipline}");
        }
        for v in p
            .values("ENTAuxEnsClassesMatieres")
            .into_iter()
            .filter(|v| !v.is_empty())
        {
            let fields: Vec<&str> = v.split('$').collect();
            assert_eq!(fields.len(), 3, "{v}");
            let classes = schools[fields[0]].values("ENTStructureClasses");
            assert!(
                classes
                    .iter()
                    .any(|c| c.split('$').next() == Some(fields[1])),
                "{v}"
            );
            assert!(matieres.contains(fields[2]), "{v}");
        }
        for v in p
            .values("ENTAuxEnsGroupesMatieres")
            .into_iter()
            .filter(|v| !v.is_empty())
        {
            let fields: Vec<&str> = v.split('$').collect();
            let groups = schools[fields[0]].values("ENTStructureGroupes");
            assert!(
                groups
                    .iter()
                    .any(|g| g.split('$').next() == Some(fields[1])),
                "{v}"
            );
        }
    }
    assert_eq!(directors.len(), 6);
    assert!(directors.values().all(|n| *n == 1));
    for code in ["ENS", "DIR", "EDU", "DOC", "ADF", "AED", "ORI"] {
        assert!(codes.contains(code), "no {code}");
    }
    assert!(two_schools > 0, "no teacher in two schools");
    let share = f64::from(two_schools) / f64::from(teachers);
    assert!(share < 0.15, "{share} of teachers in two schools");
    // The director is staff member 0 of each school.
    let dir0 = aaf::staff(&spec, 0, 0).unwrap();
    let PersonDetails::Staff(d) = &dir0.details else {
        panic!()
    };
    assert!(d.functions[0].contains("$DIR$"));
}

#[test]
fn records_are_what_the_accessors_say_and_ages_follow_the_level() {
    let spec = spec(Degree::Second);
    let mut out = Vec::new();
    write_category(&spec, Category::Eleve, &mut out).unwrap();
    let pupils = by_id(&parse(std::str::from_utf8(&out).unwrap()));
    for (school, index) in [(0, 0), (0, 7), (2, 3), (5, 199)] {
        let p = aaf::pupil(&spec, school, index).unwrap();
        let r = &pupils[&p.id];
        let PersonDetails::Pupil(d) = &p.details else {
            panic!()
        };
        assert_eq!(
            r.operational,
            ("categoriePersonne".to_owned(), "Eleve".to_owned())
        );
        assert_eq!(r.first("ENTPersonJointure"), Some(p.id.clone()));
        assert_eq!(r.first("sn"), Some(p.surname.clone()));
        assert_eq!(r.first("givenName"), p.given_name.clone());
        assert_eq!(r.first("personalTitle").as_deref(), p.title);
        assert_eq!(r.first("ENTEleveINE"), Some(d.ine.clone()));
        assert_eq!(d.ine.len(), 11);
        assert_eq!(
            r.first("ENTPersonDateNaissance"),
            Some(d.birth_date.format("%d/%m/%Y").to_string())
        );
        assert_eq!(r.first("ENTPersonStructRattach"), Some(d.structure.clone()));
        assert_eq!(r.values("ENTEleveClasses"), d.classes);
        assert_eq!(r.first("ENTEleveMEF"), d.mef.clone());
        assert_eq!(r.first("ENTEleveMEFSTAT4").as_deref(), Some(d.mef_stat4));
        let links: Vec<String> = d.guardians.iter().map(|g| g.value()).collect();
        assert_eq!(r.values("ENTElevePersRelEleve"), links);
    }
    assert!(aaf::pupil(&spec, 0, 200).is_none());
    assert!(aaf::pupil(&spec, 6, 0).is_none());
    // 6e pupils (MEF-STAT4 2111) are 11 in the school year 2026-2027: born
    // in 2015, or 2014 when a year late.
    let sixth: Vec<&Rec> = pupils
        .values()
        .filter(|r| r.first("ENTEleveMEFSTAT4").as_deref() == Some("2111"))
        .collect();
    assert!(!sixth.is_empty());
    for r in sixth {
        let date = r.first("ENTPersonDateNaissance").unwrap();
        assert!(date.ends_with("/2015") || date.ends_with("/2014"), "{date}");
        assert!(
            r.values("ENTEleveClasses")[0]
                .split('$')
                .nth(1)
                .unwrap()
                .starts_with('6')
        );
    }
}

#[test]
fn values_are_escaped_and_empty_values_written_self_closing() {
    let spec = spec(Degree::Second);
    let mut out = Vec::new();
    write_category(&spec, Category::Eleve, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("<attr name=\"mail\"><value/></attr>"));
    let parsed = parse(&text);
    let empty_mail = parsed
        .iter()
        .filter(|r| r.first("mail").as_deref() == Some(""))
        .count();
    let with_mail = parsed
        .iter()
        .filter(|r| r.first("mail").is_some_and(|m| m.contains('@')))
        .count();
    assert!(empty_mail > with_mail, "pupils' mail should often be empty");
    assert!(with_mail > 0);
    // 6e pupils have no group: an empty value.
    assert!(text.contains("<attr name=\"ENTEleveGroupes\"><value/></attr>"));

    let mut out = Vec::new();
    let mut big = spec.clone();
    big.schools = 40;
    write_category(&big, Category::PersRelEleve, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    for (i, _) in text.match_indices('&') {
        let rest = &text[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "unescaped & at {}",
            &rest[..20.min(rest.len())]
        );
    }
    let names: Vec<String> = parse(&text).iter().filter_map(|r| r.first("sn")).collect();
    assert!(
        names.iter().any(|n| n.contains(" & ")),
        "no organisme name with &"
    );
    assert!(text.contains("Enfance &amp; Familles"));
}

#[test]
fn the_first_degree_uses_onde_names_and_has_no_subjects_or_mefs() {
    let spec = spec(Degree::First);
    let dir = tempfile::tempdir().unwrap();
    let set = write_complete(&spec, dir.path()).unwrap();
    let categories: Vec<Category> = set.files.iter().map(|f| f.category).collect();
    assert_eq!(
        categories,
        [
            Category::EtabEducNat,
            Category::PersEducNat,
            Category::PersRelEleve,
            Category::Eleve
        ]
    );
    assert!(
        set.files
            .iter()
            .all(|f| f.name.starts_with("ENT1D_Complet_20260901_"))
    );
    let text = read_text(&set.path(&set.files[0].name));
    assert!(text.contains("<!-- degre : 1 -->"));
    for s in records(&set, Category::EtabEducNat) {
        assert_eq!(s.first("ENTStructureTypeStruct").as_deref(), Some("ECOLE"));
        assert!(!s.first("ENTEcoleCirconscription").unwrap().is_empty());
        assert!(Uai::parse(&s.first("ENTStructureUAI").unwrap()).is_ok());
    }
    let pupils = records(&set, Category::Eleve);
    for p in &pupils {
        assert!(!p.has("sn") && !p.has("givenName") && !p.has("ENTEleveMEF"));
        assert!(p.has("ENTPersonNom") && p.has("ENTPersonPrenom"));
        let level = p.first("ENTEleveNiveau").unwrap();
        let cycle = p.first("ENTEleveCycle").unwrap();
        let expected = match level.as_str() {
            "CP" | "CE1" | "CE2" => "2",
            "CM1" | "CM2" => "3",
            other => panic!("level {other}"),
        };
        assert_eq!(cycle, expected);
        assert!(
            p.values("ENTEleveClasses")[0]
                .split('$')
                .nth(1)
                .unwrap()
                .starts_with(&level)
        );
    }
    for g in records(&set, Category::PersRelEleve) {
        assert!(g.has("ENTPersonNom") && !g.has("sn"));
    }
    for s in records(&set, Category::PersEducNat) {
        assert!(s.has("ENTPersonPrenom") && !s.has("givenName"));
    }
    assert!(matches!(
        write_category(&spec, Category::MatiereEducNat, std::io::sink()),
        Err(GenError::CategoryNotInDegree { .. })
    ));
    // The two degrees of one académie never share an id or a UAI.
    let second = self::spec(Degree::Second);
    let mut out = Vec::new();
    write_category(&second, Category::Eleve, &mut out).unwrap();
    let second_ids: HashSet<String> = parse(std::str::from_utf8(&out).unwrap())
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert!(pupils.iter().all(|p| !second_ids.contains(&p.id)));
    let first_uais: HashSet<String> = (0..6).map(|i| aaf::school(&spec, i).unwrap().uai).collect();
    assert!((0..6).all(|i| !first_uais.contains(&aaf::school(&second, i).unwrap().uai)));
}

#[test]
fn invalid_specs_are_refused_before_anything_is_written() {
    let good = spec(Degree::Second);
    assert!(write_category(&good, Category::EtabEducNat, std::io::sink()).is_ok());

    let mut s = good.clone();
    s.max_records_per_file = 0;
    assert!(matches!(
        write_category(&s, Category::EtabEducNat, std::io::sink()),
        Err(GenError::ZeroRecordsPerFile)
    ));
    for academie in [
        "",
        "ac-rennes",
        "AC--RENNES",
        "AC RENNES",
        "AC-RENNES-",
        "AC-ÉVRY",
    ] {
        let mut s = good.clone();
        s.academie = academie.to_owned();
        assert!(
            matches!(
                write_category(&s, Category::EtabEducNat, std::io::sink()),
                Err(GenError::InvalidAcademie(_))
            ),
            "{academie:?}"
        );
    }
    let mut s = good.clone();
    s.schools = 16_001;
    assert!(matches!(
        write_category(&s, Category::EtabEducNat, std::io::sink()),
        Err(GenError::TooManySchools { .. })
    ));
    let mut s = good.clone();
    s.schools = 16_000;
    s.pupils_per_school = 200;
    assert!(matches!(
        write_category(&s, Category::EtabEducNat, std::io::sink()),
        Err(GenError::TooManyPupils { .. })
    ));
    let mut s = good.clone();
    s.include_demo_population = true;
    assert!(write_category(&s, Category::EtabEducNat, std::io::sink()).is_ok());
    s.academie = "AC-NANTES".to_owned();
    assert!(matches!(
        write_category(&s, Category::EtabEducNat, std::io::sink()),
        Err(GenError::DemoAcademie { .. })
    ));
    let missing = tempfile::tempdir().unwrap();
    let file = missing.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    assert!(matches!(
        write_complete(&good, &file.join("below-a-file")),
        Err(GenError::Io { .. })
    ));
}

#[test]
fn a_set_packs_into_a_reproducible_tar() {
    let mut spec = spec(Degree::Second);
    spec.schools = 2;
    let dir = tempfile::tempdir().unwrap();
    let set = write_complete(&spec, dir.path()).unwrap();
    let tar_a = set.write_tar(Vec::new()).unwrap();
    let tar_b = set.write_tar(Vec::new()).unwrap();
    assert_eq!(tar_a, tar_b);
    let mut archive = tar::Archive::new(tar_a.as_slice());
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, std::fs::read(set.path(&name)).unwrap(), "{name}");
        assert_eq!(entry.header().mode().unwrap(), 0o644);
        names.push(name);
    }
    let mut expected: Vec<String> = set.files.iter().map(|f| f.name.clone()).collect();
    expected.push(set.bordereau.clone());
    assert_eq!(names, expected);
}
