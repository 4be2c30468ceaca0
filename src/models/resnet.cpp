#include "xfer/models/resnet.h"
