//! Generates the user.v1, order.v1 and billing.v1 code with tonic-prost-build from the
//! repository's protos, using the protoc binary that the protoc-bin-vendored crate ships (nothing
//! else to install).
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let protos = std::path::PathBuf::from("../../../proto");
    // google/api/annotations.proto (the HTTP bindings), vendored next to the contract.
    let googleapis = std::path::PathBuf::from("../../../third_party/googleapis");
    // prost-build runs the protoc that PROTOC names: the one shipped inside the crate.
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_server(false)
        .compile_protos(
            &[
                protos.join("user/v1/user.proto"),
                protos.join("order/v1/order.proto"),
                protos.join("order/v1/events.proto"),
                protos.join("billing/v1/billing.proto"),
                protos.join("billing/v1/events.proto"),
                protos.join("billing/v1/saga.proto"),
            ],
            &[protos.clone(), googleapis.clone(), protoc_bin_vendored::include_path()?],
        )?;
    println!("cargo:rerun-if-changed={}", protos.display());
    println!("cargo:rerun-if-changed={}", googleapis.display());
    Ok(())
}
