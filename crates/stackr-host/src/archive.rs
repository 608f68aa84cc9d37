//! `stackr cp`'s side of the host: a host path packed into a tar for the engine's archive API,
//! and a tar from it unpacked onto the host.

use std::path::Path;

/// Where `cp SRC SERVICE:PATH` puts `src`: the folder to extract into and the entry's name.
/// `PATH` names the copy (`/etc/app.conf`), or, ending with `/`, the folder it goes into under
/// its own name (`/etc/`).
pub fn destination<'a>(path: &'a str, src: &Path) -> (&'a str, String) {
    match path.rsplit_once('/') {
        Some((d, n)) if !n.is_empty() => (if d.is_empty() { "/" } else { d }, n.to_string()),
        _ => (
            path,
            src.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    }
}

/// `src` (a file, or a folder and everything in it) as a tar whose entry is named `name`.
pub fn pack(src: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    if src.is_dir() {
        b.append_dir_all(name, src)?;
    } else {
        b.append_path_with_name(src, name)?;
    }
    b.into_inner()
}

/// Unpacks a tar into `dest`: a single file becomes `dest` itself when `dest` is not a folder
/// (as `docker cp` does). Returns how many entries it held.
pub fn extract(tar: &[u8], dest: &Path) -> std::io::Result<usize> {
    let mut archive = tar::Archive::new(tar);
    let entries: Vec<_> = archive.entries()?.collect::<Result<Vec<_>, _>>()?;
    let single_file = entries.len() == 1 && entries[0].header().entry_type().is_file();
    let count = entries.len();
    if single_file && !dest.is_dir() {
        let mut archive = tar::Archive::new(tar);
        if let Some(entry) = archive.entries()?.next() {
            let mut entry = entry?;
            let mut f = std::fs::File::create(dest)?;
            std::io::copy(&mut entry, &mut f)?;
        }
        return Ok(count);
    }
    std::fs::create_dir_all(dest)?;
    tar::Archive::new(tar).unpack(dest)?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{destination, extract, pack};

    #[test]
    fn a_destination_names_the_copy_or_the_folder_it_goes_into() {
        let src = Path::new("./site/index.html");
        assert_eq!(
            destination("/srv/page.html", src),
            ("/srv", "page.html".into())
        );
        assert_eq!(destination("/srv/", src), ("/srv/", "index.html".into()));
        assert_eq!(destination("/top", src), ("/", "top".into()));
    }

    #[test]
    fn a_packed_file_unpacks_to_the_destination_file_and_a_folder_into_a_folder() {
        let dir = std::env::temp_dir().join(format!("stackr-host-archive-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src/sub")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("src/a.txt"), "a").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("src/sub/b.txt"), "b").unwrap_or_else(|e| panic!("{e}"));
        let one = pack(&dir.join("src/a.txt"), "a.txt").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(extract(&one, &dir.join("copy.txt")).ok(), Some(1));
        assert_eq!(
            std::fs::read_to_string(dir.join("copy.txt"))
                .ok()
                .as_deref(),
            Some("a")
        );
        let all = pack(&dir.join("src"), "site").unwrap_or_else(|e| panic!("{e}"));
        assert!(extract(&all, &dir.join("out")).is_ok_and(|n| n >= 3));
        assert_eq!(
            std::fs::read_to_string(dir.join("out/site/sub/b.txt"))
                .ok()
                .as_deref(),
            Some("b")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
