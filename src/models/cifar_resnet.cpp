#include "xfer/models/cifar_resnet.h"
