//! The skip policy and the driver probe against fake `libcuda.so`s, built
//! here with the C compiler (no GPU needed): a stub whose `cuInit` fails is
//! a *failure* with the driver's own text (so the descriptions were loaded
//! after `cuInit`), `CUDA_ERROR_NO_DEVICE` from `cuInit` is a *skip*
//! (a failure with `EVLATCH_CUDA_REQUIRE_GPU=1`), and a driver missing a
//! symbol the crate calls fails with the symbol's name instead of cudarc's
//! panic.
//!
//! Each case runs this binary again (`child`) with the fake first on
//! `LD_LIBRARY_PATH`: a process loads its driver once. Linux only; without
//! a C compiler it says so and checks nothing.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use evlatch_cuda::DRIVER_SYMBOLS;

/// A fake driver: `cuInit` returns `init`; `cuGetErrorString` describes
/// codes only once `cuInit` ran; every other symbol of the crate exists
/// (and answers `CUDA_ERROR_UNKNOWN`) except `omit`.
fn fake_driver_source(init: u32, omit: Option<&str>) -> String {
    let mut c = format!(
        "static int inited;\n\
         int cuInit(unsigned int flags) {{ (void)flags; inited = 1; return {init}; }}\n\
         int cuGetErrorString(int code, const char **text) {{\n\
         \x20   (void)code;\n\
         \x20   if (!inited) return 3; /* CUDA_ERROR_NOT_INITIALIZED */\n\
         \x20   *text = \"text from the fake driver\";\n\
         \x20   return 0;\n\
         }}\n\
         int cuDeviceGetCount(int *count) {{ *count = 0; return 0; }}\n"
    );
    for name in DRIVER_SYMBOLS {
        let special = ["cuInit", "cuGetErrorString", "cuDeviceGetCount"];
        if !special.contains(name) && omit != Some(*name) {
            c.push_str(&format!("int {name}(void) {{ return 999; }}\n"));
        }
    }
    c
}

/// Builds the fake into its own directory; `None` without a C compiler.
fn build(case: &str, init: u32, omit: Option<&str>) -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!("evlatch-fake-cuda-{}-{case}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("fake.c");
    std::fs::write(&src, fake_driver_source(init, omit)).unwrap();
    let lib = dir.join("libcuda.so");
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status();
    match built {
        Ok(status) if status.success() => {
            // cudarc also tries the versioned name.
            let _ = std::fs::copy(&lib, dir.join("libcuda.so.1"));
            Some(dir)
        }
        other => {
            eprintln!("fake_driver: no C compiler ({other:?}): nothing checked");
            None
        }
    }
}

fn run_child(dir: &Path, require_gpu: bool) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture"])
        .env("FAKE_DRIVER_CHILD", "1")
        .env("LD_LIBRARY_PATH", dir)
        .env_remove(support::REQUIRE_GPU);
    if require_gpu {
        cmd.env(support::REQUIRE_GPU, "1");
    }
    cmd.output().unwrap()
}

/// The child half: what a GPU test does with the fake driver loaded.
#[test]
fn child() {
    if std::env::var_os("FAKE_DRIVER_CHILD").is_none() {
        return;
    }
    eprintln!("availability: {:?}", evlatch_cuda::availability());
    if support::gpu("child").is_some() {
        panic!("a fake driver must never yield a GPU");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_stub_driver_fails_with_the_drivers_own_text() {
    // CUDA_ERROR_STUB_LIBRARY
    let Some(dir) = build("stub", 34, None) else {
        return;
    };
    let out = run_child(&dir, false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "a stub must fail: {stderr}");
    assert!(
        stderr.contains("not a skip")
            && stderr
                .contains("cuInit failed with CUDA_ERROR_STUB_LIBRARY: text from the fake driver"),
        "{stderr}"
    );
    assert!(!stderr.contains(": skipped: "), "{stderr}");
}

#[cfg(target_os = "linux")]
#[test]
fn cu_init_no_device_skips_unless_a_gpu_is_required() {
    // CUDA_ERROR_NO_DEVICE
    let Some(dir) = build("nodevice", 100, None) else {
        return;
    };
    let out = run_child(&dir, false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "no device: skip: {stderr}");
    assert!(stderr.contains("availability: Err(NoDevice)"), "{stderr}");
    assert!(
        stderr.contains("child: skipped: the CUDA driver found no device"),
        "{stderr}"
    );

    let out = run_child(&dir, true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "required: fail: {stderr}");
    assert!(
        stderr.contains("EVLATCH_CUDA_REQUIRE_GPU=1 but there is no GPU"),
        "{stderr}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_missing_symbol_fails_with_its_name_not_a_panic_in_cudarc() {
    let Some(dir) = build("nosymbol", 0, Some("cuStreamAddCallback")) else {
        return;
    };
    let out = run_child(&dir, false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains(r#"availability: Err(MissingSymbol { name: "cuStreamAddCallback" })"#),
        "{stderr}"
    );
    assert!(
        stderr.contains("the CUDA driver does not export cuStreamAddCallback"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Missing symbol"),
        "cudarc's panic: {stderr}"
    );
}
