"""The faceforge networks written in PyTorch, module for module and name for name, for the parity
tests (tools/make_model_goldens.py) and the converter (tools/convert_torch.py). These mirror the
reference notebooks' hourglass and torchvision's ResNet50; the C++ side is models/hourglass.cpp
and models/resnet.cpp."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class Residual(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        half = cout // 2
        self.conv1 = nn.Conv2d(cin, half, 1)
        self.bn1 = nn.BatchNorm2d(half)
        self.conv2 = nn.Conv2d(half, half, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(half)
        self.conv3 = nn.Conv2d(half, cout, 1)
        self.bn3 = nn.BatchNorm2d(cout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + (self.skip(x) if self.skip is not None else x))


class Hourglass(nn.Module):
    def __init__(self, c):
        super().__init__()
        for i in range(1, 5):
            setattr(self, f"enc{i}", Residual(c, c))
        for i in range(1, 5):
            setattr(self, f"de{i}", Residual(c, c))

    @staticmethod
    def up2(x):
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)

    @staticmethod
    def resize(x, like):
        if x.shape[2:] == like.shape[2:]:
            return x
        return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        e4 = self.enc4(e3)
        d1 = self.resize(self.de1(self.up2(e4)), e3) + e3
        d2 = self.resize(self.de2(self.up2(d1)), e2) + e2
        d3 = self.resize(self.de3(self.up2(d2)), e1) + e1
        return self.de4(d3)


class StackedHourglass(nn.Module):
    def __init__(self, stem=64, mid=128, channels=256, stacks=2, landmarks=5):
        super().__init__()
        self.stacks = stacks
        self.init_conv = nn.Sequential(
            nn.Conv2d(3, stem, 7, stride=2, padding=3), nn.BatchNorm2d(stem), nn.ReLU(),
            Residual(stem, mid), nn.MaxPool2d(2), Residual(mid, mid), Residual(mid, channels))
        for k in range(1, stacks + 1):
            setattr(self, f"hg{k}", Hourglass(channels))
        for k in range(1, stacks + 1):
            setattr(self, f"out_conv{k}", nn.Conv2d(channels, landmarks, 1))
        for k in range(1, stacks):
            setattr(self, f"merge{k}", nn.Sequential(nn.Conv2d(landmarks, channels, 1), Residual(channels, channels)))

    def forward(self, x):
        h = self.init_conv(x)
        outs = []
        for k in range(1, self.stacks + 1):
            hk = getattr(self, f"hg{k}")(h)
            outs.append(getattr(self, f"out_conv{k}")(hk))
            if k < self.stacks:
                h = getattr(self, f"merge{k}")(outs[-1]) + hk
        return outs


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def tiny_cnn(classes=4):
    """tests/support/tiny_cnn.h's TinyCnn: conv3x3 3->8, BN, ReLU, maxpool 2, conv3x3 8->16, BN, ReLU,
    global average pool, linear 16 -> classes; children named 0..8 as ours."""
    return nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, 2),
                         nn.Conv2d(8, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU(), GlobalAvgPool(),
                         nn.Linear(16, classes))


def toy_shapes(n, rng):
    """A batch like tests/support/tiny_cnn.cpp toy_shapes_batch (its recipe, numpy's random numbers):
    16x16 RGB images of a horizontal bar, vertical bar, diagonal bar or square ring at a random
    position and colour on noise. Returns (float32 images [n, 3, 16, 16], int64 labels [n])."""
    import numpy as np
    s = 16
    img = np.zeros((n, 3, s, s), np.float32)
    lab = rng.integers(0, 4, n)
    yy, xx = np.mgrid[0:s, 0:s]
    for i in range(n):
        col = rng.uniform(0.5, 1.0, 3)
        cx, cy = 4 + rng.integers(0, 8), 4 + rng.integers(0, 8)
        dx, dy = xx - cx, yy - cy
        on = [(abs(dy) <= 1) & (abs(dx) <= 4), (abs(dx) <= 1) & (abs(dy) <= 4),
              (abs(dx - dy) <= 1) & (abs(dx) <= 4), np.maximum(abs(dx), abs(dy)) == 3][lab[i]]
        img[i] = on[None] * col[:, None, None] + rng.uniform(-0.15, 0.15, (3, s, s))
    return torch.from_numpy(img), torch.from_numpy(lab.astype(np.int64))


def resnet(width=1.0, blocks=(3, 4, 6, 3), classes=0):
    """torchvision's ResNet50 (Bottleneck, v1.5) with a width multiplier; classes=0 drops fc."""
    base = int(64 * width + 0.5)
    m = torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, list(blocks),
                                         num_classes=max(classes, 1), width_per_group=base)
    if base != 64:  # torchvision hard-codes 64 for the stem and stage widths: rebuild them scaled
        m.inplanes = base
        m.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        m.bn1 = nn.BatchNorm2d(base)
        m.base_width = 64  # so Bottleneck width = planes
        m.layer1 = m._make_layer(torchvision.models.resnet.Bottleneck, base, blocks[0])
        m.layer2 = m._make_layer(torchvision.models.resnet.Bottleneck, base * 2, blocks[1], stride=2)
        m.layer3 = m._make_layer(torchvision.models.resnet.Bottleneck, base * 4, blocks[2], stride=2)
        m.layer4 = m._make_layer(torchvision.models.resnet.Bottleneck, base * 8, blocks[3], stride=2)
        m.fc = nn.Linear(base * 8 * 4, max(classes, 1))
    if classes == 0:
        m.fc = nn.Identity()
    return m


class EmbeddingNet(nn.Module):
    def __init__(self, width=1.0, blocks=(3, 4, 6, 3), embedding=512, dropout=0.7, bn=False):
        super().__init__()
        self.backbone = resnet(width, blocks, 0)
        feat = int(64 * width + 0.5) * 32
        layers = [nn.Dropout(dropout), nn.Linear(feat, embedding)]
        if bn:  # faceforge's EmbeddingConfig.bn (the small configuration): BatchNorm1d on the embedding
            layers.append(nn.BatchNorm1d(embedding))
        self.embedding_layer = nn.Sequential(*layers)

    def forward(self, x):
        return self.embedding_layer(self.backbone(x))


def arcface_loss(emb, weight, labels, s=45.0, m=0.1):
    """The ArcFace head as the reference notebooks compose it (normalise, product, margin on the
    target cosine through a one-hot matrix, scaled cross-entropy); faceforge fuses it into one op
    (engine/ops.h arcface_loss). Shared by the goldens, the converter cases and tools/torch_recipe.py."""
    cos = F.linear(F.normalize(emb), F.normalize(weight))
    tc = cos.gather(1, labels[:, None]).squeeze(1)
    c = tc.clamp(-1, 1)
    sine = (1 - c * c).clamp(min=1e-12).sqrt()
    phi = torch.where(c > math.cos(math.pi - m), c * math.cos(m) - sine * math.sin(m), c - math.sin(math.pi - m) * m)
    onehot = F.one_hot(labels, cos.shape[1]).to(cos.dtype)
    return F.cross_entropy(s * (onehot * phi[:, None] + (1 - onehot) * cos), labels)
