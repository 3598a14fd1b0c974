//! An evaluation as a submission bundle (the format of `amm-engine submit`): the modules named
//! by hash, the configuration as run, `results.json` and a `receipt.json` with every sha256, in
//! a tar archive under `bundle/`. `amm-engine verify bundle/receipt.json` re-checks it offline.

use std::path::Path;

use amm_engine::receipt::{BundledModule, Receipt};
use amm_engine::report::RunResults;
use amm_engine::sandbox::sha256_hex;

/// Builds the bundle of merged `results_json`, reading modules from `data` (where the
/// config's relative module paths point). Returns the tar archive.
pub fn tar(results_json: &str, data: &Path) -> Result<Vec<u8>, String> {
    let results: RunResults =
        serde_json::from_str(results_json).map_err(|e| format!("stored results do not parse: {e}"))?;
    let config = &results.config;
    let mut archive = Vec::new();
    let mut modules = Vec::new();
    for (entry, summary) in config.strategies.iter().zip(&results.strategies) {
        let file = entry.path.to_string_lossy().into_owned();
        // Only the service's own layout: modules/<64 hex>.wasm, nothing that leaves `data`.
        let sha = file
            .strip_prefix("modules/")
            .and_then(|f| f.strip_suffix(".wasm"))
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("unexpected module path {file:?}"))?;
        let bytes = std::fs::read(data.join(&file)).map_err(|e| format!("{file}: {e}"))?;
        if sha256_hex(&bytes) != sha {
            return Err(format!("{file} no longer matches its hash"));
        }
        append(&mut archive, &format!("bundle/{file}"), &bytes)?;
        modules.push(BundledModule { name: summary.name.clone(), sha256: sha.to_string(), file });
    }
    let config_text = toml::to_string_pretty(config).map_err(|e| format!("cannot serialise the config: {e}"))?;
    append(&mut archive, "bundle/config.toml", config_text.as_bytes())?;
    append(&mut archive, "bundle/results.json", results_json.as_bytes())?;
    let receipt = Receipt::of_run(&results, &config_text, results_json, modules, Vec::new());
    let receipt = serde_json::to_string_pretty(&receipt).map_err(|e| e.to_string())? + "\n";
    append(&mut archive, "bundle/receipt.json", receipt.as_bytes())?;
    archive.extend_from_slice(&[0u8; 1024]);
    Ok(archive)
}

/// Appends one regular file to a ustar archive.
fn append(archive: &mut Vec<u8>, name: &str, bytes: &[u8]) -> Result<(), String> {
    if name.len() > 99 {
        return Err(format!("tar name too long: {name}"));
    }
    let mut header = [0u8; 512];
    let mut put = |at: usize, field: &[u8]| header[at..at + field.len()].copy_from_slice(field);
    put(0, name.as_bytes());
    put(100, b"0000644\0");
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{:011o}\0", bytes.len()).as_bytes());
    put(136, b"00000000000\0");
    put(148, b"        ");
    put(156, b"0");
    put(257, b"ustar\0");
    put(263, b"00");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    archive.extend_from_slice(&header);
    archive.extend_from_slice(bytes);
    archive.resize(archive.len().div_ceil(512) * 512, 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_headers_carry_name_size_and_checksum() {
        let mut archive = Vec::new();
        append(&mut archive, "bundle/a.txt", b"hello").unwrap();
        assert_eq!(archive.len(), 1024);
        assert_eq!(&archive[..12], b"bundle/a.txt");
        assert_eq!(&archive[124..136], b"00000000005\0");
        let mut blank = archive[..512].to_vec();
        blank[148..156].copy_from_slice(b"        ");
        let sum: u32 = blank.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(&archive[148..156], format!("{sum:06o}\0 ").as_bytes());
        assert_eq!(&archive[512..517], b"hello");
        assert!(append(&mut archive, &"x".repeat(100), b"").is_err());
    }
}
