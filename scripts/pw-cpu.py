#!/usr/bin/env python3
# Usage: scripts/pw-session.sh python3 scripts/pw-cpu.py [null-yuyv null-mjpeg pw-none pw-raw pw-mjpg]
# (DUR=seconds, default 20; AB=path to the binary, default target/release/alpha-bridge).
# CPU per written frame of `alpha-bridge webcam --camera emulated` (emulator in-process,
# so its JPEG encoding is in every figure; compare differences), with getrusage via wait4.
import os, subprocess, sys, time, re
AB=os.environ.get("AB", "target/release/alpha-bridge")
DUR=int(os.environ.get("DUR","20"))
def run(label, args, consumer=None):
    env=dict(os.environ, RUST_LOG="info")
    p=subprocess.Popen([AB,"webcam","--camera","emulated","--duration",f"{DUR}s"]+args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    c=None
    if consumer:
        time.sleep(1.5)
        node=subprocess.run("pw-cli ls Node | grep -o 'node.name = \"alpha-bridge[^\"]*\"' | cut -d'\"' -f2",
                            shell=True,capture_output=True,text=True).stdout.strip()
        c=subprocess.Popen(["gst-launch-1.0","-q","pipewiresrc",f"target-object={node}","!",consumer,"!","fakesink"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out=p.stdout.read(); err=p.stderr.read()
    _,status,ru=os.wait4(p.pid,0)
    if c: c.terminate(); c.wait()
    m=re.search(r"(\d+) frames captured, (\d+) written",out)
    written=int(m.group(2)) if m else 0
    cpu=ru.ru_utime+ru.ru_stime
    lat=re.findall(r"latency p50 ([\d.]+) p99 ([\d.]+) ms",err)
    dec=re.findall(r"decode p50 ([\d.-]+) p99 ([\d.-]+) ms",err)
    ho=re.findall(r"handoff to queued mean (\d+) max (\d+)",err)
    sent=re.findall(r"pipewire: (\d+) pictures sent",err)
    print(f"{label:34s} cpu {cpu:6.2f}s written {written:5d} ms/frame {1000*cpu/max(written,1):6.2f} "
          f"lat(p50,p99 ms) {lat[-1] if lat else '-'} decode {dec[-1] if dec else '-'} pw-sent {sent[-1] if sent else '-'} handoff(us mean,max) {ho[-1] if ho else '-'}", flush=True)
which=sys.argv[1:] or ["null-yuyv","null-mjpeg","pw-none","pw-raw","pw-mjpg"]
for w in which:
    if w=="null-yuyv": run("v4l2 path, --device null (YUYV)",["--output","v4l2","--device","null"])
    if w=="null-mjpeg": run("v4l2 path, --device null --format mjpeg",["--output","v4l2","--device","null","--format","mjpeg"])
    if w=="pw-none": run("pipewire, no consumer",["--output","pipewire"])
    if w=="pw-raw": run("pipewire, raw YUY2 consumer",["--output","pipewire"],"video/x-raw,format=YUY2")
    if w=="pw-mjpg": run("pipewire, MJPG consumer",["--output","pipewire"],"image/jpeg")
