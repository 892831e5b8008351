//! Lifecycle tests: ordering and paging, visibility after commit + reload, reopening,
//! replacement, deletion, schema mismatch, determinism, and a timing run (ignored).

use super::{attrs, build, docs, fixture, query, run};
use crate::{EntityDoc, IndexError, IndexRead, QidoPage, StudyIndex};
use arc_model::Level::{self, Instance, Patient, Series, Study};

#[test]
fn results_are_ordered_by_ord_and_paged() {
    let (_d, ix) = fixture();
    // ord: 1.2.3.2 → 10, 1.2.3.3 → 20, 1.2.3.1 → 30.
    assert_eq!(
        run(&ix, &query(Study, &[])),
        ["1.2.3.2", "1.2.3.3", "1.2.3.1"]
    );
    assert_eq!(
        run(&ix, &query(Study, &[("limit", "2")])),
        ["1.2.3.2", "1.2.3.3"]
    );
    assert_eq!(
        run(&ix, &query(Study, &[("limit", "2"), ("offset", "2")])),
        ["1.2.3.1"]
    );
    assert_eq!(
        run(&ix, &query(Study, &[("offset", "1")])),
        ["1.2.3.3", "1.2.3.1"]
    );
    for (limit, offset) in [("10", "3"), ("10", "1000"), ("0", "0")] {
        let page = ix
            .search(&query(Study, &[("limit", limit), ("offset", offset)]))
            .unwrap();
        assert_eq!(
            (page.total, page.hits.len()),
            (3, 0),
            "limit={limit} offset={offset}"
        );
    }
    let huge = query(
        Study,
        &[
            ("limit", &u64::MAX.to_string()),
            ("offset", &u64::MAX.to_string()),
        ],
    );
    assert_eq!(ix.search(&huge).unwrap().hits.len(), 0);
    assert_eq!(
        ix.search(&query(Study, &[("limit", "1")])).unwrap().total,
        3
    );
    assert_eq!(
        ix.count(&query(Instance, &[("PatientID", "PID1"), ("limit", "1")]))
            .unwrap(),
        4
    );
    assert_eq!(ix.count(&query(Patient, &[])).unwrap(), 2);
}

#[test]
fn changes_are_visible_after_commit_and_reload_only() {
    let (_d, mut ix) = fixture();
    let reader = ix.reader();
    let mut doc = docs().remove(2);
    doc.uid = "1.2.3.4".into();
    doc.ord = 40;
    doc.attrs.extend(attrs(&[
        ("StudyInstanceUID", &["1.2.3.4"]),
        ("AccessionNumber", &["ACC4"]),
    ]));
    ix.upsert(doc).unwrap();
    let acc4 = query(Study, &[("AccessionNumber", "ACC4")]);
    assert_eq!(ix.count(&acc4).unwrap(), 0, "uncommitted");
    ix.commit(8).unwrap();
    assert_eq!(ix.count(&acc4).unwrap(), 0, "committed, not reloaded");
    ix.reload().unwrap();
    assert_eq!(run(&ix, &acc4), ["1.2.3.4"]);
    assert_eq!(run(&reader, &acc4), ["1.2.3.4"], "readers share reloads");
    assert_eq!(ix.committed_position(), Some(8));
}

#[test]
fn reopening_keeps_position_and_documents() {
    let dir = tempfile::tempdir().unwrap();
    {
        let ix = StudyIndex::open(dir.path()).unwrap();
        assert_eq!(ix.committed_position(), None);
    }
    {
        let mut ix = StudyIndex::open(dir.path()).unwrap();
        for doc in docs() {
            ix.upsert(doc).unwrap();
        }
        ix.commit(42).unwrap();
        // Uncommitted changes are lost when the writer goes away.
        ix.delete(Study, "1.2.3.1").unwrap();
    }
    let ix = StudyIndex::open(dir.path()).unwrap();
    assert_eq!(ix.committed_position(), Some(42));
    assert_eq!(ix.count(&query(Study, &[])).unwrap(), 3);
    assert_eq!(ix.count(&query(Instance, &[])).unwrap(), 5);
    let s1 = ix.get(Study, "1.2.3.1").unwrap().expect("study");
    assert_eq!(s1, docs()[2].attrs);
}

#[test]
fn upsert_replaces_and_delete_removes() {
    let (_d, mut ix) = fixture();
    let mut doc = docs().remove(2);
    doc.attrs
        .extend(attrs(&[("StudyDescription", &["CT Chest revised"])]));
    ix.upsert(doc.clone()).unwrap();
    // A second upsert in the same batch replaces the first.
    ix.upsert(doc.clone()).unwrap();
    ix.delete(Series, "1.2.3.1.2").unwrap();
    ix.delete(Series, "no.such.series").unwrap();
    ix.commit(9).unwrap();
    ix.reload().unwrap();
    assert!(run(
        &ix,
        &query(Study, &[("StudyDescription", "CT Chest (contrast)")])
    )
    .is_empty());
    assert_eq!(
        run(&ix, &query(Study, &[("StudyDescription", "*revised")])),
        ["1.2.3.1"]
    );
    assert_eq!(ix.count(&query(Study, &[])).unwrap(), 3);
    assert_eq!(ix.get(Study, "1.2.3.1").unwrap(), Some(doc.attrs));
    assert_eq!(ix.get(Series, "1.2.3.1.2").unwrap(), None);
    assert_eq!(ix.count(&query(Series, &[])).unwrap(), 3);
    // Same UID at another level is another entity.
    assert!(ix.get(Series, "1.2.3.1").unwrap().is_none());
    assert!(ix.get(Patient, "PID1").unwrap().is_some());
}

#[test]
fn rollback_drops_uncommitted_changes() {
    let (_d, mut ix) = fixture();
    ix.delete(Study, "1.2.3.1").unwrap();
    ix.rollback().unwrap();
    ix.commit(10).unwrap();
    ix.reload().unwrap();
    assert_eq!(ix.count(&query(Study, &[])).unwrap(), 3);
}

#[test]
fn another_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = tantivy::schema::Schema::builder();
    b.add_text_field("something_else", tantivy::schema::STRING);
    tantivy::Index::create_in_dir(dir.path(), b.build()).unwrap();
    assert!(matches!(
        StudyIndex::open(dir.path()),
        Err(IndexError::SchemaMismatch(..))
    ));
}

/// Every level, a spread of matching forms: the answers compared between indexes.
fn answers(ix: &StudyIndex) -> Vec<(Level, QidoPage)> {
    let cases: &[(Level, &[(&str, &str)])] = &[
        (Patient, &[]),
        (Study, &[]),
        (Study, &[("PatientName", "d*")]),
        (Study, &[("StudyDate", "20231231-"), ("limit", "2")]),
        (Series, &[("Modality", "CT\\SR"), ("offset", "1")]),
        (
            Series,
            &[("RequestAttributesSequence.ScheduledProcedureStepID", "SPS*")],
        ),
        (Instance, &[]),
        (Instance, &[("ContentTime", "-1200")]),
    ];
    cases
        .iter()
        .map(|(level, p)| (*level, ix.search(&query(*level, p)).unwrap()))
        .collect()
}

#[test]
fn same_documents_give_the_same_answers() {
    let (_a, first) = fixture();
    let mut reversed = docs();
    reversed.reverse();
    let (_b, second) = build(reversed);
    let (x, y) = (answers(&first), answers(&second));
    assert_eq!(x, y);
    assert!(x.iter().all(|(_, page)| page.total > 0));
}

/// Timing of a realistic load: `cargo test -p arc-index --release -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_10k_documents() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = StudyIndex::open(dir.path()).unwrap();
    let template = docs();
    let started = std::time::Instant::now();
    let mut n = 0u64;
    while n < 10_000 {
        for (i, base) in template.iter().enumerate() {
            let mut doc: EntityDoc = base.clone();
            let suffix = format!(".{n}");
            doc.uid.push_str(&suffix);
            doc.ord = n;
            let k = n / template.len() as u64;
            let pid = format!("PID{}", k % 500);
            doc.attrs.extend(attrs(&[("PatientID", &[pid.as_str()])]));
            doc.attrs
                .extend(attrs(&[("AccessionNumber", &[format!("A{k}").as_str()])]));
            if i >= 5 {
                doc.study_uid = doc.study_uid.map(|s| format!("{s}{suffix}"));
            }
            ix.upsert(doc).unwrap();
            n += 1;
        }
    }
    let inserted = started.elapsed();
    ix.commit(n).unwrap();
    let committed = started.elapsed();
    ix.reload().unwrap();
    println!("{n} docs: upsert {inserted:?}, +commit {committed:?}");
    for (level, p) in [
        (Study, vec![("PatientName", "doe*"), ("limit", "100")]),
        (
            Study,
            vec![("StudyDate", "20240101-20240131"), ("limit", "100")],
        ),
        (Instance, vec![("PatientID", "PID7")]),
        (Series, vec![("AccessionNumber", "A42")]),
        (
            Study,
            vec![
                ("StudyDescription", "*contrast*"),
                ("offset", "500"),
                ("limit", "50"),
            ],
        ),
    ] {
        let q = query(level, &p);
        let t = std::time::Instant::now();
        let rounds = 20;
        let mut total = 0;
        for _ in 0..rounds {
            total = ix.search(&q).unwrap().total;
        }
        println!(
            "{level:?} {p:?}: {total} matches, {:?} per search",
            t.elapsed() / rounds
        );
    }
}
