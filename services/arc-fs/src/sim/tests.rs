//! Unit tests of the durability semantics of `SimFs`.

use super::SimFs;
use crate::Fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

fn p(s: &str) -> &Path {
    Path::new(s)
}

fn write(fs: &SimFs, path: &str, data: &[u8], sync: bool) -> io::Result<()> {
    let mut f = fs.create(p(path))?;
    f.write_all(data)?;
    if sync {
        f.sync()?;
    }
    Ok(())
}

#[test]
fn root_always_exists() -> io::Result<()> {
    let fs = SimFs::new();
    assert!(fs.is_dir(p("/")));
    assert!(fs.list_dir(p("/"))?.is_empty());
    let after = fs.restart(true);
    assert!(after.is_dir(p("/")));
    Ok(())
}

#[test]
fn current_view_sees_everything() -> io::Result<()> {
    let fs = SimFs::new();
    fs.create_dir_all(p("/data/log"))?;
    write(&fs, "/data/log/a", b"hello", false)?;
    let mut f = fs.open_append(p("/data/log/a"))?;
    f.write_all(b" world")?;
    assert_eq!(fs.read(p("/data/log/a"))?, b"hello world");
    assert_eq!(fs.read_at(p("/data/log/a"), 6, 100)?, b"world");
    assert_eq!(fs.read_at(p("/data/log/a"), 60, 10)?, b"");
    assert_eq!(fs.size(p("/data/log/a"))?, Some(11));
    assert_eq!(fs.size(p("/data/log/missing"))?, None);
    assert_eq!(fs.list_dir(p("/data"))?, vec!["log".to_string()]);
    assert!(fs.is_dir(p("/data/log")));
    assert!(!fs.is_dir(p("/data/log/a")));
    assert_eq!(
        fs.list_dir(p("/nope")).map_err(|e| e.kind()),
        Err(io::ErrorKind::NotFound)
    );
    assert_eq!(
        fs.create(p("/nope/x")).map(|_| ()).map_err(|e| e.kind()),
        Err(io::ErrorKind::NotFound)
    );
    assert_eq!(
        fs.remove_file(p("/data/zz")).map_err(|e| e.kind()),
        Err(io::ErrorKind::NotFound)
    );
    Ok(())
}

#[test]
fn unsynced_file_is_lost() -> io::Result<()> {
    let fs = SimFs::new();
    write(&fs, "/a", b"data", false)?;
    let after = fs.restart(false);
    assert_eq!(after.size(p("/a"))?, None);
    // Even with torn tails: the directory entry itself was never durable.
    assert_eq!(fs.restart(true).size(p("/a"))?, None);
    Ok(())
}

#[test]
fn synced_file_in_unsynced_dir_is_lost() -> io::Result<()> {
    let fs = SimFs::new();
    fs.create_dir_all(p("/d"))?;
    fs.sync_dir(p("/"))?;
    write(&fs, "/d/a", b"data", true)?;
    let after = fs.restart(false);
    assert!(after.is_dir(p("/d")));
    assert_eq!(after.size(p("/d/a"))?, None);

    fs.sync_dir(p("/d"))?;
    let after = fs.restart(false);
    assert_eq!(after.read(p("/d/a"))?, b"data");
    Ok(())
}

#[test]
fn subdirectory_needs_parent_sync() -> io::Result<()> {
    let fs = SimFs::new();
    fs.create_dir_all(p("/d/e"))?;
    write(&fs, "/d/e/a", b"x", true)?;
    fs.sync_dir(p("/d/e"))?;
    fs.sync_dir(p("/d"))?;
    // "/" never synced: everything below is unreachable after the crash.
    assert!(!fs.restart(false).is_dir(p("/d")));
    fs.sync_dir(p("/"))?;
    assert_eq!(fs.restart(false).read(p("/d/e/a"))?, b"x");
    Ok(())
}

#[test]
fn contents_durable_only_up_to_sync() -> io::Result<()> {
    let fs = SimFs::new();
    let mut f = fs.create(p("/a"))?;
    fs.sync_dir(p("/"))?;
    f.write_all(b"0123")?;
    f.sync()?;
    f.write_all(b"456789")?;
    assert_eq!(fs.restart(false).read(p("/a"))?, b"0123");
    // Torn: about half of the 6 unsynced bytes.
    assert_eq!(fs.restart(true).read(p("/a"))?, b"0123456");
    f.sync()?;
    assert_eq!(fs.restart(true).read(p("/a"))?, b"0123456789");
    Ok(())
}

#[test]
fn torn_tail_keeps_at_least_one_byte() -> io::Result<()> {
    let fs = SimFs::new();
    let mut f = fs.create(p("/a"))?;
    fs.sync_dir(p("/"))?;
    f.write_all(b"x")?;
    assert_eq!(fs.restart(true).read(p("/a"))?, b"x");
    assert_eq!(fs.restart(false).read(p("/a"))?, b"");
    Ok(())
}

#[test]
fn truncate_is_durable() -> io::Result<()> {
    let fs = SimFs::new();
    write(&fs, "/a", b"0123456789", true)?;
    fs.sync_dir(p("/"))?;
    fs.truncate(p("/a"), 4)?;
    assert_eq!(fs.read(p("/a"))?, b"0123");
    assert_eq!(fs.restart(true).read(p("/a"))?, b"0123");
    fs.truncate(p("/a"), 6)?;
    assert_eq!(fs.restart(false).read(p("/a"))?, b"0123\0\0");
    Ok(())
}

#[test]
fn rename_durability() -> io::Result<()> {
    let fs = SimFs::new();
    fs.create_dir_all(p("/d"))?;
    fs.sync_dir(p("/"))?;
    write(&fs, "/d/tmp", b"new", true)?;
    write(&fs, "/d/final", b"old", true)?;
    fs.sync_dir(p("/d"))?;
    fs.rename(p("/d/tmp"), p("/d/final"))?;
    assert_eq!(fs.read(p("/d/final"))?, b"new");
    assert_eq!(fs.size(p("/d/tmp"))?, None);

    // Not followed by sync_dir: the old names come back.
    let after = fs.restart(false);
    assert_eq!(after.read(p("/d/final"))?, b"old");
    assert_eq!(after.read(p("/d/tmp"))?, b"new");

    fs.sync_dir(p("/d"))?;
    let after = fs.restart(false);
    assert_eq!(after.read(p("/d/final"))?, b"new");
    assert_eq!(after.size(p("/d/tmp"))?, None);
    Ok(())
}

#[test]
fn removal_durability() -> io::Result<()> {
    let fs = SimFs::new();
    write(&fs, "/a", b"x", true)?;
    fs.sync_dir(p("/"))?;
    fs.remove_file(p("/a"))?;
    assert_eq!(fs.size(p("/a"))?, None);
    assert_eq!(fs.restart(false).read(p("/a"))?, b"x");
    fs.sync_dir(p("/"))?;
    assert_eq!(fs.restart(false).size(p("/a"))?, None);
    Ok(())
}

#[test]
fn restarted_fs_is_independent() -> io::Result<()> {
    let fs = SimFs::new();
    write(&fs, "/a", b"x", true)?;
    fs.sync_dir(p("/"))?;
    let after = fs.restart(false);
    write(&after, "/a", b"changed", true)?;
    assert_eq!(fs.read(p("/a"))?, b"x");
    assert_eq!(after.ops(), 3);
    Ok(())
}

#[test]
fn crash_after_makes_operations_fail() -> io::Result<()> {
    let fs = SimFs::new();
    fs.create_dir_all(p("/d"))?;
    assert_eq!(fs.ops(), 1);
    fs.crash_after(2);
    let mut f = fs.create(p("/d/a"))?;
    f.write_all(b"abc")?;
    assert_eq!(fs.ops(), 3);
    // Every later operation fails, mutating or not.
    assert!(f.sync().is_err());
    assert!(f.write_all(b"x").is_err());
    assert!(fs.read(p("/d/a")).is_err());
    assert!(fs.size(p("/d/a")).is_err());
    assert!(fs.list_dir(p("/")).is_err());
    assert!(fs.sync_dir(p("/d")).is_err());
    assert!(!fs.is_dir(p("/d")));
    assert_eq!(fs.ops(), 3);
    let err = fs.read(p("/d/a")).map(|_| ()).map_err(|e| e.to_string());
    assert_eq!(err, Err("simulated crash".to_string()));
    // The restarted machine works again and holds nothing of it.
    let after = fs.restart(true);
    assert!(!after.is_dir(p("/d")));
    after.create_dir_all(p("/d"))?;
    Ok(())
}

#[test]
fn crash_after_zero_fails_at_once() {
    let fs = SimFs::new();
    fs.crash_after(0);
    assert!(fs.create_dir_all(p("/d")).is_err());
    assert!(fs.list_dir(p("/")).is_err());
    assert_eq!(fs.ops(), 0);
}

#[test]
fn usable_as_dyn_fs() -> io::Result<()> {
    let fs: Arc<dyn Fs> = SimFs::new();
    fs.create_dir_all(p("/x"))?;
    assert!(fs.is_dir(p("/x")));
    assert!(format!("{fs:?}").contains("SimFs"));
    Ok(())
}

#[test]
fn errors_for_wrong_kinds() -> io::Result<()> {
    let fs = SimFs::new();
    fs.create_dir_all(p("/d"))?;
    write(&fs, "/f", b"", false)?;
    let ops = fs.ops();
    assert!(fs.create(p("/d")).is_err());
    assert!(fs.remove_file(p("/d")).is_err());
    assert!(fs.create_dir_all(p("/f/g")).is_err());
    assert!(fs.create_dir_all(p("/f")).is_err());
    assert!(fs.rename(p("/f"), p("/d")).is_err());
    assert!(fs.rename(p("/d"), p("/d/e")).is_err());
    assert!(fs.sync_dir(p("/f")).is_err());
    // Failed calls are not counted as performed operations.
    assert_eq!(fs.ops(), ops);
    Ok(())
}
