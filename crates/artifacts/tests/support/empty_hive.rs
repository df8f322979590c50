//! An empty registry hive for hivex to write into, shared by the registry tests and the
//! registry bench (`#[path]`-included: this directory is not a test target).

/// An empty hive (base block and one bin holding the root key and its security cell),
/// the only thing hivex cannot write itself.
pub fn empty_hive() -> Vec<u8> {
    const STAMP: u64 = 0x01d9_0000_0000_0000;
    let mut base = vec![0u8; 4096];
    let put32 = |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    base[0..4].copy_from_slice(b"regf");
    put32(&mut base, 4, 1);
    put32(&mut base, 8, 1);
    base[12..20].copy_from_slice(&STAMP.to_le_bytes());
    put32(&mut base, 20, 1);
    put32(&mut base, 24, 5);
    put32(&mut base, 32, 1);
    put32(&mut base, 36, 0x20);
    put32(&mut base, 40, 4096);
    put32(&mut base, 44, 1);
    let checksum = (0..127).fold(0u32, |x, i| {
        x ^ u32::from_le_bytes(base[i * 4..i * 4 + 4].try_into().unwrap())
    });
    put32(&mut base, 508, checksum);
    let mut bin = vec![0u8; 4096];
    bin[0..4].copy_from_slice(b"hbin");
    put32(&mut bin, 8, 4096);
    bin[20..28].copy_from_slice(&STAMP.to_le_bytes());
    // Root key at 0x20: 88-byte cell, name "ROOT".
    let nk = 0x20;
    put32(&mut bin, nk, (-88i32) as u32);
    bin[nk + 4..nk + 6].copy_from_slice(b"nk");
    bin[nk + 6..nk + 8].copy_from_slice(&0x2cu16.to_le_bytes());
    bin[nk + 8..nk + 16].copy_from_slice(&STAMP.to_le_bytes());
    let field = |at: usize| nk + 4 + at;
    for (at, v) in [
        (0x10, u32::MAX),
        (0x1c, u32::MAX),
        (0x20, u32::MAX),
        (0x28, u32::MAX),
        (0x2c, 0x78),
        (0x30, u32::MAX),
    ] {
        put32(&mut bin, field(at), v);
    }
    bin[field(0x48)..field(0x4a)].copy_from_slice(&4u16.to_le_bytes());
    bin[field(0x4c)..field(0x50)].copy_from_slice(b"ROOT");
    // Security cell at 0x78: a self-relative descriptor with a NULL DACL.
    let sk = 0x78;
    let descriptor = [
        1u8, 0, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    put32(&mut bin, sk, (-48i32) as u32);
    bin[sk + 4..sk + 6].copy_from_slice(b"sk");
    put32(&mut bin, sk + 8, 0x78);
    put32(&mut bin, sk + 12, 0x78);
    put32(&mut bin, sk + 16, 1);
    put32(&mut bin, sk + 20, descriptor.len() as u32);
    bin[sk + 24..sk + 24 + descriptor.len()].copy_from_slice(&descriptor);
    let free = sk + 48;
    put32(&mut bin, free, (4096 - free) as u32);
    base.extend(bin);
    base
}
