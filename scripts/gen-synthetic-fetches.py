#!/usr/bin/env python3
"""Synthetic slowlane fetches.csv for benchmarks (documented generator).

Writes N rows with exactly the columns of slowlane's fetches.csv (the field
order of `FetchRecord` in src/record/mod.rs). The campaign it imitates:
`--urls` URLs (default 200) split over the classes text/image/video/audio/
other, a fifth of them controls; among the targets, every third image/video
URL is policed to ~131 kbit/s (the Twitter-2021 figure), the rest are fast
(lognormal around 40 Mbit/s, sigma 0.4). One row per URL per round, rounds
until N rows, `--vantages` vantage names taking turns by round (with
`--vantages 10000 --urls 20`, 1M rows give every vantage 5 rounds). About 1% of
fetches fail with an OONI failure string; policed fetches are capped at 20 s.
Deterministic for a given --seed.

    scripts/gen-synthetic-fetches.py --rows 1000000 --out /tmp/fetches.csv
"""
import argparse
import csv
import math
import random

COLUMNS = (
    "campaign,vantage,run_id,round,fetch_id,started_at,url,host,sni,addr,addrs,"
    "dns_override,class,group,label,controls,method,direction,status,location,content_type,error,"
    "error_phase,http_version,tls_version,alpn,cipher,body_bytes,upload_bytes,object_bytes,capped,"
    "dns_ms,tcp_ms,tls_ms,ttfb_ms,transfer_ms,total_ms,goodput_bps,steady_bps,"
    "peak_window_bps,upload_bps,tcp_rtt_ms,tcp_min_rtt_ms,tcp_rcv_rtt_ms,tcp_retrans,"
    "tcp_ooo,tcp_bytes_received,tcp_bytes_acked"
).split(",")
CLASSES = ["text", "image", "video", "audio", "other"]
SIZES = {"text": 60_000, "image": 400_000, "video": 4_000_000, "audio": 1_000_000, "other": 200_000}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--urls", type=int, default=200)
    ap.add_argument("--vantages", type=int, default=2)
    ap.add_argument("--control-every", type=int, default=5,
                    help="every K-th block of 5 URLs (one per class) is controls")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    urls = []
    for i in range(a.urls):
        cls = CLASSES[i % len(CLASSES)]
        control = (i // len(CLASSES)) % a.control_every == a.control_every - 1
        host = f"ctl{i}.example.org" if control else f"t{i % 17}.example.com"
        policed = (not control) and cls in ("image", "video") and i % 3 == 0
        urls.append((f"https://{host}/o/{i}.{cls}", host, cls, "control" if control else "target", policed))
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        n = 0
        rnd = 0
        while n < a.rows:
            rnd += 1
            vantage = f"vp-{rnd % a.vantages}"
            order = list(range(len(urls)))
            rng.shuffle(order)
            for i in order:
                if n >= a.rows:
                    break
                url, host, cls, group, policed = urls[i]
                n += 1
                rtt = 40 * math.exp(rng.gauss(0, 0.1))
                dns, tcp, tls = 5 * math.exp(rng.gauss(0, 0.3)), rtt, 2 * rtt * math.exp(rng.gauss(0, 0.1))
                ttfb = 1.5 * rtt
                error = phase = capped = ""
                size = SIZES[cls]
                if rng.random() < 0.01:
                    error, phase = rng.choice([("connection_reset", "tls"), ("generic_timeout_error", "body")])
                if policed:
                    rate = 131072 * math.exp(rng.gauss(0, 0.03))
                    transfer = min(20000.0, size * 8000 / rate)
                    capped = "time" if transfer >= 20000.0 else ""
                else:
                    rate = 40e6 * math.exp(rng.gauss(0, 0.4))
                    transfer = size * 8000 / rate
                body = int(min(size, rate * transfer / 8000))
                total = dns + tcp + tls + ttfb + transfer
                row = [
                    "bench", vantage, "run1", rnd, f"{vantage}-{rnd}-{i}", "2021-03-10T12:00:00Z",
                    url, host, host, "192.0.2.1:443", "192.0.2.1", "", cls, group, "", "", "GET", "down",
                    "" if error else 200, "", "", error, phase, "HTTP/2.0", "TLSv1_3", "h2",
                    "TLS13_AES_128_GCM_SHA256", body, 0, size, capped,
                    f"{dns:.3f}", f"{tcp:.3f}", f"{tls:.3f}", f"{ttfb:.3f}", f"{transfer:.3f}",
                    f"{total:.3f}", int(rate), int(rate * math.exp(rng.gauss(0, 0.02))),
                    int(rate * 1.3), "", f"{rtt:.3f}", f"{rtt * 0.95:.3f}", f"{rtt:.3f}",
                    rng.randrange(0, 5), 0, body + 5000, 600,
                ]
                w.writerow(row)


if __name__ == "__main__":
    main()
