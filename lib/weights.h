/* weights.h — trained weights from other frameworks: Keras .h5 files and TensorFlow.js
 * layers models, read into named layers of named tensors and mapped onto a tp_net.
 *
 * Keras 2 .h5 (model.save_weights, or model.save under a 'model_weights' group): the root
 * attribute layer_names lists the layers in order; each layer's group has an attribute
 * weight_names giving its tensors' paths inside the group, e.g. 'block1_conv1_W_1:0' (the
 * published VGG16 files) or 'block1_conv1/kernel:0' (Keras 2.1 and later). Attributes too
 * large for one HDF5 object header are split as NAME0, NAME1, ...
 *
 * TensorFlow.js layers model: model.json holds weightsManifest, a list of groups, each with
 * paths (shard files beside model.json, read as one concatenated buffer) and weights (name
 * 'LAYER/kernel', shape, dtype float32, optionally quantized: uint8/uint16 with scale and
 * min, value = q * scale + min, or float16).
 *
 * Both store conv kernels as H x W x in x out and dense kernels as in x out, tpipe's layouts,
 * and flatten channels-last images in H, W, C order as tpipe does; nothing is transposed.
 */
#ifndef TP_WEIGHTS_H
#define TP_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "net.h"
#include "wset.h"

/* Reads weights from path: an HDF5 file (by its signature), a model.json, or a folder
 * holding model.json. Returns 0, or -1 with "what is wrong" in err. s must be zeroed. */
int tp_wset_read(tp_wset *s, const char *path, char *err, size_t errlen);
/* Reads a TensorFlow.js layers model (model.json or its folder). */
int tp_wset_read_tfjs(tp_wset *s, const char *path, char *err, size_t errlen);

/* Copies s onto net's parameters: the file's layers in order onto the network's conv,
 * dense and batchnorm layers in order (with base_only the file's dense layers are left
 * out). Network layers past the end of the file keep their values when they are dense (a
 * new head, initialised by the caller); a conv or batchnorm layer left without weights, a
 * layer of another kind, a tensor of another shape or one file layer too many is an error
 * naming the tensor and the layer. The mapping is reported on report when not NULL, one
 * line a layer. Returns the number of network layers filled, or -1 with err. */
int tp_wset_apply(const tp_wset *s, tp_net *net, int base_only, FILE *report, char *err, size_t errlen);

#endif
