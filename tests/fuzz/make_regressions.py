#!/usr/bin/env python3
"""tests/fuzz/make_regressions.py — writes tests/fuzz/regressions/TARGET/: the hostile inputs of the
reliability review (../shared/docs/reviews/reliability.md, issue 13) that crashed a parser, broke
its contract or cost gigabytes, rebuilt byte for byte from its description, one file per finding.
Each must now be refused (or read correctly) by its target, under ASan + UBSan (scripts/fuzz.sh)
and in the ordinary tests (tests/test_fuzz_corpus.cpp). Inputs libFuzzer finds later are copied
there as they are. Plain Python; reads the seed corpus (make_seeds.py) for the real files it edits."""
import json
import os
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "regressions")
SEEDS = os.path.join(HERE, "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(header, data=b""):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def edit_header(blob, edit):
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    edit(header)
    return safetensors(header, blob[8 + n:])


def seed(target, name):
    with open(os.path.join(SEEDS, target, name), "rb") as f:
        return f.read()


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(w, h):
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))


def jpeg_segments(j):
    """(marker, start, length) of each segment before the scan."""
    i, out = 2, []
    while i + 4 <= len(j) and j[i] == 0xFF:
        m = j[i + 1]
        n = struct.unpack(">H", j[i + 2:i + 4])[0]
        out.append((m, i, n))
        if m == 0xDA:
            break
        i += 2 + n
    return out


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    f32 = struct.pack("<4f", 1, 2, 3, 4)

    # ---- safetensors: each refused with a message (and nothing allocated for the claimed size)
    put("safetensors", "offsets_past_data_100GB",
        safetensors({"a": {"dtype": "F32", "shape": [25000000000], "data_offsets": [0, 100000000000]}}, f32))
    put("safetensors", "shape_100GB_small_offsets",
        safetensors({"a": {"dtype": "F32", "shape": [25000000000], "data_offsets": [0, 16]}}, f32))
    put("safetensors", "header_length_2p63", struct.pack("<Q", 1 << 63) + b"{}" + f32)
    put("safetensors", "header_length_99MB", struct.pack("<Q", 99 * 1024 * 1024) + b'{"a":1}' + f32)
    put("safetensors", "shape_numel_overflow",  # review #13: 2^21 cubed wraps int64 times 4 bytes
        safetensors({"a": {"dtype": "F32", "shape": [2097152, 2097152, 2097152, 2097152], "data_offsets": [0, 16]}}, f32))
    put("safetensors", "negative_dimension", safetensors({"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, f32))
    put("safetensors", "float_offsets", safetensors(b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0.0,16.5]}}', f32))
    put("safetensors", "duplicate_key",  # review #28: the last of two keys won
        safetensors(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                    b'"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', f32))
    put("safetensors", "empty_tensor_name", safetensors({"": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, f32))
    put("safetensors", "nested_json_100000", safetensors(b"[" * 100000 + b"]" * 100000))
    put("safetensors", "unknown_dtype", safetensors({"a": {"dtype": "F8", "shape": [4], "data_offsets": [0, 4]}}, f32))
    put("safetensors", "overlapping_tensors",
        safetensors({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                     "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, f32))
    # A flipped bit in a checkpoint's data: its CRC-32 no longer matches (review #17).
    st = bytearray(seed("safetensors", "hourglass_last.state.safetensors"))
    st[-5] ^= 0x10
    put("safetensors", "flipped_data_bit", bytes(st))

    # ---- model files: checked against their metadata before anything is built (review #10-13)
    put("model", "embedding_width4_no_tensors_136B",  # built a width-4 ResNet50: 2.66 GB, 107 s
        safetensors({"__metadata__": {"model": "embedding", "config": "width=4,blocks=3:4:6:3,embedding=512,dropout=0"}}))
    put("model", "hourglass_stacks2000",  # built 2000 stacks: 625 MB
        safetensors({"__metadata__": {"model": "hourglass", "config": "stem=64,mid=128,channels=256,stacks=2000,landmarks=5,input=256"}}))
    put("model", "hourglass_channels60000",
        safetensors({"__metadata__": {"model": "hourglass", "config": "stem=8,mid=8,channels=60000,stacks=1,landmarks=5,input=32"}}))
    put("model", "resnet_width_1e300",  # review #12: 64*width+0.5 cast to int64 (UB)
        safetensors({"__metadata__": {"model": "resnet", "config": "width=1e300,blocks=1:1:1:1,classes=10,input=64"}}))
    put("model", "resnet_width_inf",
        safetensors({"__metadata__": {"model": "resnet", "config": "width=inf,blocks=1:1:1:1,classes=10,input=64"}}))
    put("model", "unknown_kind", safetensors({"__metadata__": {"model": "transformer", "config": "x=1"}}))

    def head_1e8(h):  # a real model with a 1e8-class ArcFace head claimed: 6.4 GB before
        h["__metadata__"].update({"head": "arcface", "classes": "100000000", "s": "45", "m": "0.1"})
    put("model", "embedding_classes_1e8", edit_header(seed("model", "embedding_best.safetensors"), head_1e8))

    def wrong_config(h):  # the tensors of one network under the configuration of a larger one
        h["__metadata__"]["config"] = "stem=16,mid=32,channels=64,stacks=2,landmarks=5,input=128"
    put("model", "hourglass_config_not_its_tensors", edit_header(seed("model", "hourglass_best.safetensors"), wrong_config))

    # ---- photos: byte 0 picks channels and DCT scale (targets.h), then the file
    jpg = None
    for name in sorted(os.listdir(os.path.join(SEEDS, "image"))):
        if name.endswith(".jpg"):
            jpg = bytearray(seed("image", name)[1:])
            break
    segs = jpeg_segments(jpg)
    sof = next(s for s in segs if s[0] in (0xC0, 0xC1, 0xC2))
    dht = next(s for s in segs if s[0] == 0xC4)

    def sized(w, h):
        j = bytearray(jpg)
        j[sof[1] + 5:sof[1] + 9] = struct.pack(">HH", h, w)
        return bytes(j)
    put("image", "jpeg_sof_26000x26000", b"\x03" + sized(26000, 26000))  # 3.9 KB -> 6.1 GB, 62 s before
    put("image", "jpeg_sof_16000x16000", b"\x03" + sized(16000, 16000))
    put("image", "jpeg_sof_60000x60000", b"\x03" + sized(60000, 60000))
    put("image", "jpeg_sof_0x100", b"\x03" + sized(0, 100))
    # stb_image 2.27 wrote past its Huffman table (found by UBSan): DHT code counts summing past 256.
    j = bytearray(jpg)
    counts = dht[1] + 5  # FF C4, length (2), table class/id (1), then 16 counts
    j[counts:counts + 16] = bytes([255] * 16)
    put("image", "jpeg_dht_counts_past_256", b"\xff" + bytes(j))
    put("image", "jpeg_truncated_half", b"\x03" + bytes(jpg[:len(jpg) // 2]))
    put("image", "jpeg_soi_only", b"\x03\xff\xd8")
    put("image", "png_ihdr_60000x60000", b"\x03" + png_header_only(60000, 60000) + png_chunk(b"IEND", b""))
    put("image", "png_ihdr_20000x15000", b"\x03" + png_header_only(20000, 15000) + png_chunk(b"IEND", b""))  # the zlib bomb's header
    put("image", "png_ihdr_0x10", b"\x03" + png_header_only(0, 10) + png_chunk(b"IEND", b""))
    raw = zlib.compress(b"".join(b"\x00" + bytes(3 * 8) for _ in range(8)))
    png8 = png_header_only(8, 8) + png_chunk(b"IDAT", raw) + png_chunk(b"IEND", b"")
    put("image", "png_8x8_ok", b"\x00" + png8)
    put("image", "png_truncated_no_iend", b"\x03" + png8[:-12])
    # Formats no longer read (review #8): truncated PNM, BMP, PSD, GIF headers claiming huge sizes.
    put("image", "pgm_20000x20000_100_bytes", b"\x03" + b"P5\n20000 20000\n255\n" + bytes(100))
    put("image", "ppm_zero_width", b"\x03" + b"P6\n0 16\n255\n")
    put("image", "bmp_16000x16000", b"\x03" + b"BM" + struct.pack("<IHHI", 118, 0, 0, 54) +
        struct.pack("<IiiHHIIiiII", 40, 16000, 16000, 1, 24, 0, 0, 0, 0, 0, 0) + bytes(10))
    put("image", "psd_16000x16000", b"\x03" + b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 16000, 16000, 8, 3) + bytes(20))
    put("image", "gif_16000x16000", b"\x03" + b"GIF89a" + struct.pack("<HH", 16000, 16000) + b"\x00\x00\x00" + b"\x2c" +
        bytes(4) + struct.pack("<HH", 16000, 16000) + b"\x00\x02\x02\x44\x01\x00\x3b")

    # ---- CelebA lists: byte 0 picks the reader (0 identities, 1 partitions, 2 boxes, 3 landmarks,
    # 4 the four joined by NUL bytes over a folder holding 000001.jpg .. 000003.jpg)
    def lm_head_n(n):
        return f"{n}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n"

    def box_head_n(n):
        return f"{n}\nimage_id x_1 y_1 width height\n"
    lm_head = lm_head_n(1)
    box_head = box_head_n(1)
    put("celeba", "landmark_1e39", b"\x03" + (lm_head + "000001.jpg 1e39 10 20 10 15 15 12 20 18 20\n").encode())
    put("celeba", "landmark_nan", b"\x03" + (lm_head + "000001.jpg nan 10 20 10 15 15 12 20 18 20\n").encode())
    put("celeba", "box_zero_size", b"\x02" + (box_head + "000001.jpg 10 10 0 20\n").encode())
    put("celeba", "box_negative", b"\x02" + (box_head + "000001.jpg 10 10 -5 20\n").encode())
    put("celeba", "identity_control_bytes", b"\x00" + b"\x1b[2J\x1b]0;owned\x07.jpg 1\n")
    put("celeba", "partition_huge_number", b"\x01" + b"000001.jpg 99999999999999999999\n")

    def joined(ids, parts, boxes, lms):
        return b"\x04" + b"\0".join(x.encode() for x in (ids, parts, boxes, lms))
    ok_lm = "10 10 20 10 15 15 12 20 18 20"
    put("celeba", "names_with_dotdot",  # review #16: training read files outside --data
        joined("000001.jpg 1\n../../../../etc/passwd 2\n", "000001.jpg 0\n../../../../etc/passwd 0\n",
               box_head_n(2) + "000001.jpg 0 0 30 30\n../../../../etc/passwd 0 0 30 30\n",
               lm_head_n(2) + f"000001.jpg {ok_lm}\n../../../../etc/passwd {ok_lm}\n"))
    put("celeba", "absolute_names",
        joined("000001.jpg 1\n/etc/hostname 2\n", "000001.jpg 0\n/etc/hostname 0\n",
               box_head_n(2) + "000001.jpg 0 0 30 30\n/etc/hostname 0 0 30 30\n",
               lm_head_n(2) + f"000001.jpg {ok_lm}\n/etc/hostname {ok_lm}\n"))
    put("celeba", "dotdot_back_inside",
        joined("../img_celeba/000002.jpg 1\n", "../img_celeba/000002.jpg 0\n",
               box_head + "../img_celeba/000002.jpg 0 0 30 30\n", lm_head + f"../img_celeba/000002.jpg {ok_lm}\n"))
    put("celeba", "box_far_outside",  # review #15: kept by the lists, skipped once the photo size is known
        joined("000001.jpg 1\n", "000001.jpg 0\n", box_head + "000001.jpg 100000 100000 30 30\n",
               lm_head + "000001.jpg 5000 -4000 20 10 15 15 12 20 18 20\n"))
    put("celeba", "duplicate_rows",
        joined("000001.jpg 1\n000001.jpg 2\n", "000001.jpg 0\n", "", ""))
    put("celeba", "counts_disagree", b"\x02" + b"99999999\nimage_id x_1 y_1 width height\n000001.jpg 1 1 2 2\n")

    # ---- configuration strings: byte 0 picks the kind (0 hourglass, 1 embedding, 2 resnet, 3 detector)
    configs = [
        (2, "width=inf,blocks=1:1:1:1"), (2, "width=1e300"), (2, "width=nan"), (1, "width=-1,blocks=1:1:1:1"),
        (0, "channels=0"), (0, "stacks=2000"), (0, "input=-64"), (0, "channels=12abc"), (0, "stem=99999999999999999999"),
        (1, "width=0.0625abc,blocks=1:1:1:1"), (1, "width=16,blocks=64:64:64:64,embedding=8192,input=4096"),
        (1, "width=0.25,embedding=9000"), (1, "width=0.25,dropout=1"), (1, "width=0.25,bn=2"),
        (3, "widths=16:24:32:64:99999"), (3, "widths=1:2:3:4:5:6"), (3, "fpn=32abc"), (3, "input=0"),
        (3, "extra=0:0:1:1:17"), (0, "stem=8,stem=9"), (1, "="), (2, ",,,"), (0, "channels=1e3"),
        (3, "fpn=8,fpn=16"), (1, "embedding=8,embedding=16"),  # a key twice: the last one won
        (1, ",,,,,,,,,,,,,,,blocks=4:2:2:2,classes=1,"),  # found by fuzzing: leading empty entries were skipped
    ]
    for i, (kind, s) in enumerate(configs):
        put("config", f"config_{i:02d}", bytes([kind]) + s.encode())
    for t in sorted(os.listdir(OUT)):
        print(f"tests/fuzz/regressions/{t}: {len(os.listdir(os.path.join(OUT, t)))} files")


if __name__ == "__main__":
    main()
