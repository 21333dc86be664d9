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

    let fds = compiler.file_descriptor_set();
    let services = fds.file.iter().flat_map(|f| {
        f.service
            .iter()
            .map(move |s| (f.package().to_string(), s.name().to_string()))
    });
    std::fs::write(out.join("message_limits.rs"), message_limits(services))?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}

/// `message_limits!` for the client and server of every talentmesh service, so no generated
/// type can be served or called without the mesh's message size limit being settable on it.
fn message_limits(services: impl Iterator<Item = (String, String)>) -> String {
    let mut code = String::new();
    for (package, name) in services {
        if !package.starts_with("talentmesh.") {
            continue;
        }
        let module = package.replace('.', "::");
        let snake = snake_case(&name);
        code.push_str(&format!(
            "crate::message_limits!(server {module}::{snake}_server::{name}Server, \
             {module}::{snake}_server::{name});\n"
        ));
        code.push_str(&format!(
            "crate::message_limits!(client {module}::{snake}_client::{name}Client);\n"
        ));
    }
    code
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
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
