#!/usr/bin/env python3
"""Writes torchvision's resnet18 as initialised after torch.manual_seed(0) (1000 classes) as a
state_dict .pth: the identical starting weights that bench/run_article.py gives to both the Python
recipe and `xfer train --weights FILE`. Usage: /usr/bin/python3 bench/export_resnet18_seed0.py OUT.pth"""
import sys
import torch, torchvision

torch.manual_seed(0)
model = torchvision.models.resnet18()
torch.save(model.state_dict(), sys.argv[1])
