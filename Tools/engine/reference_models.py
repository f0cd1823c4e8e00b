"""The reference PyTorch networks of shared/spec/method.md §2, exactly as written there, plus the
recognition classifier and the initialisation the spec prescribes. Imported by the golden
writer (make_torch_goldens.py), the checkpoint check (check_export.py) and the benchmark
(Tools/bench/engine_torch_bench.py), so all three use one definition.
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBlock(nn.Module):            # conv3x3 (no bias) → BN → ReLU, twice
    def __init__(s, cin, cout):
        super().__init__()
        s.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False); s.bn1 = nn.BatchNorm2d(cout)
        s.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False); s.bn2 = nn.BatchNorm2d(cout)

    def forward(s, x):
        return F.relu(s.bn2(s.conv2(F.relu(s.bn1(s.conv1(x))))))


class UNet(nn.Module):                 # widths=(16, 32, 64, 128) is the reference size
    def __init__(s, cin, cout, widths=(16, 32, 64, 128)):
        super().__init__()
        w = widths
        s.enc0 = ConvBlock(cin, w[0]); s.enc1 = ConvBlock(w[0], w[1])
        s.enc2 = ConvBlock(w[1], w[2]); s.enc3 = ConvBlock(w[2], w[3])
        s.dec2 = ConvBlock(w[3] + w[2], w[2]); s.dec1 = ConvBlock(w[2] + w[1], w[1])
        s.dec0 = ConvBlock(w[1] + w[0], w[0])
        s.head = nn.Conv2d(w[0], cout, 1)          # with bias

    def forward(s, x):                              # returns logits and the features KD uses
        e0 = s.enc0(x); e1 = s.enc1(F.max_pool2d(e0, 2))
        e2 = s.enc2(F.max_pool2d(e1, 2)); e3 = s.enc3(F.max_pool2d(e2, 2))
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)
        d2 = s.dec2(torch.cat([up(e3), e2], 1)); d1 = s.dec1(torch.cat([up(d2), e1], 1))
        d0 = s.dec0(torch.cat([up(d1), e0], 1))
        return s.head(d0), {"bottleneck": e3, "decoder": d0}


class Classifier(nn.Module):           # the recognition student: U-Net encoder + GAP + linear
    def __init__(s, cin, classes, widths=(16, 32, 64, 128)):
        super().__init__()
        w = widths
        s.enc0 = ConvBlock(cin, w[0]); s.enc1 = ConvBlock(w[0], w[1])
        s.enc2 = ConvBlock(w[1], w[2]); s.enc3 = ConvBlock(w[2], w[3])
        s.fc = nn.Linear(w[3], classes)

    def forward(s, x):
        e0 = s.enc0(x); e1 = s.enc1(F.max_pool2d(e0, 2))
        e2 = s.enc2(F.max_pool2d(e1, 2)); e3 = s.enc3(F.max_pool2d(e2, 2))
        return s.fc(torch.flatten(F.adaptive_avg_pool2d(e3, 1), 1)), {"bottleneck": e3}


def init_weights(model):
    """method.md §2: Kaiming-normal (fan_out, ReLU) for convs, BN weight 1 / bias 0, conv bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def from_architecture(arch):
    """The model an evdistill checkpoint's `architecture` metadata (JSON text or dict) describes."""
    if isinstance(arch, str):
        arch = json.loads(arch)
    widths = tuple(arch["widths"])
    if arch["model"] == "unet":
        return UNet(arch["in_channels"], arch["out_channels"], widths)
    if arch["model"] == "classifier":
        return Classifier(arch["in_channels"], arch["out_channels"], widths)
    raise ValueError(f"unknown model {arch['model']!r}")
