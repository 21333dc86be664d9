//! Compiles every `.proto` under the repository's `proto/` folder with protox (a pure-Rust
//! compiler, so no system `protoc` is needed), generates tonic/prost code from it, and writes the
//! encoded descriptor set that reflection and the gateway read at run time.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest.join("../../proto");
    let mut files = Vec::new();
    collect_protos(&root, &root, &mut files)?;
    files.sort();
    println!("cargo:rerun-if-changed={}", root.display());

    let mut compiler = protox::Compiler::new([&root])?;
    // Comments become rustdoc and OpenAPI descriptions; imports make the set self-contained.
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(&files)?;

    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // The protox encoding keeps custom options (google.api.http) that a round trip through
    // prost_types would drop, so the gateway reads this exact byte string.
    std::fs::write(
        out.join("talentmesh_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

fn collect_protos(
    root: &Path,
    dir: &Path,
    out: &mut Vec<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            let rel = path
                .strip_prefix(root)?
                .to_string_lossy()
                .replace('\\', "/");
            out.push(rel);
        }
    }
    Ok(())
}
